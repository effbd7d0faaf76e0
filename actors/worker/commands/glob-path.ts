/**
 * `glob`: the paths matching a Python glob pattern, `**` recursive (docs/master-worker-protocol.md §3.5). Never fails,
 * except when confined and the pattern's fixed directory leads outside (§3.1).
 */
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { PathEscapeError } from '../../master/errors.js';
import { Confinement } from './confinement.js';
import { pythonGlob } from './python-glob.js';

/** The components before the first one with a wildcard: the directory the pattern starts from. */
function fixedPrefix(pattern: string): string {
  const parts = pattern.split('/');
  const wild = parts.findIndex((part) => /[*?[]/.test(part));
  if (wild < 0) return pattern;
  return parts.slice(0, wild).join('/') || (pattern.startsWith('/') ? '/' : '.');
}

export const GLOB_COMMAND_CLASS = 'GlobPath';
export const GLOB_REQUIRED_ARGS = ['path'] as const;

export function createGlobPath(args: CommandArguments, context: CommandContext): CommandImplementation {
  const pattern = args.string('path');
  const confinement = Confinement.of(args, context.logger);
  return {
    async run() {
      await confinement.resolve(fixedPrefix(pattern)).catch((error: unknown) => {
        // Only the escape is news; a prefix that does not exist simply matches nothing.
        if (error instanceof PathEscapeError) throw error;
      });
      const matches = await pythonGlob(pattern);
      // A match reached through a link leading out is dropped: even its name is not ours to tell.
      const inside = await Promise.all(matches.map((file) => confinement.contains(file, { followLast: false })));
      const files = matches.filter((_, index) => inside[index]);
      if (files.length < matches.length) {
        context.logger?.warn({ pattern, dropped: matches.length - files.length }, 'glob matches outside the confinement directory dropped');
      }
      context.sendStatus([
        ['files', files],
        ['rc', 0],
      ]);
    },
    interrupt() {},
    kill() {},
  };
}
