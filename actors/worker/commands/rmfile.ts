/** `rmfile`: remove one file (not a directory) (docs/master-worker-protocol.md §3.5). */
import { unlink } from 'node:fs/promises';
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { Confinement } from './confinement.js';
import { reportFilesystemError } from './fs-error-status.js';

export const RMFILE_COMMAND_CLASS = 'RemoveFile';
export const RMFILE_REQUIRED_ARGS = ['path'] as const;

export function createRemoveFile(args: CommandArguments, context: CommandContext): CommandImplementation {
  const path = args.string('path');
  const confinement = Confinement.of(args, context.logger);
  return {
    async run() {
      try {
        // A link at the end is removed itself, never followed.
        const physical = await confinement.resolve(path, { followLast: false });
        await confinement.inParent(physical, (entry) => unlink(entry));
      } catch (error) {
        reportFilesystemError(context, 'rmfile', path, error);
        return;
      }
      context.sendStatus([['rc', 0]]);
    },
    interrupt() {},
    kill() {},
  };
}
