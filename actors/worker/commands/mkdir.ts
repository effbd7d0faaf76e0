/** `mkdir`: create directories with their parents (docs/master-worker-protocol.md §3.5); stops at the first failure. */
import { mkdir, stat } from 'node:fs/promises';
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { reportFilesystemError } from './fs-error-status.js';

export const MKDIR_COMMAND_CLASS = 'MakeDirectory';
export const MKDIR_REQUIRED_ARGS = ['paths'] as const;

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export function createMakeDirectory(args: CommandArguments, context: CommandContext): CommandImplementation {
  const paths = args.stringList('paths');
  return {
    async run() {
      for (const path of paths) {
        try {
          if (!(await isDirectory(path))) await mkdir(path, { recursive: true });
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
