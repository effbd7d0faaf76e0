/** `listdir`: the names in a directory, without `.` and `..` (docs/master-worker-protocol.md §3.5). */
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { Confinement } from './confinement.js';
import { reportFilesystemError } from './fs-error-status.js';

export const LISTDIR_COMMAND_CLASS = 'ListDir';
export const LISTDIR_REQUIRED_ARGS = ['path'] as const;

export function createListDir(args: CommandArguments, context: CommandContext): CommandImplementation {
  const path = args.string('path');
  const confinement = Confinement.of(args, context.logger);
  return {
    async run() {
      let names: string[];
      try {
        const physical = await confinement.resolve(path);
        names = await confinement.listDirectory(physical);
      } catch (error) {
        reportFilesystemError(context, 'listdir', path, error);
        return;
      }
      context.sendStatus([
        ['files', names],
        ['rc', 0],
      ]);
    },
    interrupt() {},
    kill() {},
  };
}
