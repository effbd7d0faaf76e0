/** `glob`: the paths matching a Python glob pattern, `**` recursive (docs/master-worker-protocol.md §3.5). Never fails. */
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { pythonGlob } from './python-glob.js';

export const GLOB_COMMAND_CLASS = 'GlobPath';
export const GLOB_REQUIRED_ARGS = ['path'] as const;

export function createGlobPath(args: CommandArguments, context: CommandContext): CommandImplementation {
  const pattern = args.string('path');
  return {
    async run() {
      const files = await pythonGlob(pattern);
      context.sendStatus([
        ['files', files],
        ['rc', 0],
      ]);
    },
    interrupt() {},
    kill() {},
  };
}
