/** `mkdir`: create directories with their parents (docs/master-worker-protocol.md §3.5); stops at the first failure. */
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { PathEscapeError } from '../../master/errors.js';
import { Confinement } from './confinement.js';
import { reportFilesystemError } from './fs-error-status.js';

export const MKDIR_COMMAND_CLASS = 'MakeDirectory';
export const MKDIR_REQUIRED_ARGS = ['paths'] as const;

async function isDirectory(confinement: Confinement, physical: string): Promise<boolean> {
  try {
    return (await confinement.statFollowing(physical)).isDirectory();
  } catch (error) {
    if (error instanceof PathEscapeError) throw error;
    return false;
  }
}

export function createMakeDirectory(args: CommandArguments, context: CommandContext): CommandImplementation {
  const paths = args.stringList('paths');
  const confinement = Confinement.of(args, context.logger);
  return {
    async run() {
      for (const path of paths) {
        try {
          const physical = await confinement.resolve(path);
          if (!(await isDirectory(confinement, physical))) await confinement.makeDirectories(physical);
        } catch (error) {
          reportFilesystemError(context, 'mkdir', path, error);
          return;
        }
      }
      context.sendStatus([['rc', 0]]);
    },
    interrupt() {},
    kill() {},
  };
}
