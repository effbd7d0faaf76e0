/** `listdir`: the names in a directory, without `.` and `..` (docs/master-worker-protocol.md §3.5). */
import { readdir } from 'node:fs/promises';
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { reportFilesystemError } from './fs-error-status.js';

export const LISTDIR_COMMAND_CLASS = 'ListDir';
export const LISTDIR_REQUIRED_ARGS = ['path'] as const;

export function createListDir(args: CommandArguments, context: CommandContext): CommandImplementation {
  const path = args.string('path');
  return {
    async run() {
      let names: string[];
      try {
        names = await readdir(path);
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
