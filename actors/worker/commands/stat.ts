/** `stat`: the ten classic `os.stat` fields of a path, symlinks followed (docs/master-worker-protocol.md §3.5). */
import type { BigIntStats } from 'node:fs';
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { Confinement } from './confinement.js';
import { reportFilesystemError } from './fs-error-status.js';

export const STAT_COMMAND_CLASS = 'StatFile';
export const STAT_REQUIRED_ARGS = ['path'] as const;

const NANOSECONDS_PER_SECOND = 1_000_000_000n;

/** `(mode, ino, dev, nlink, uid, gid, size, atime, mtime, ctime)` with whole-second times, as Python's `tuple(os.stat(p))`. */
export function statTuple(stats: BigIntStats): number[] {
  return [
    stats.mode,
    stats.ino,
    stats.dev,
    stats.nlink,
    stats.uid,
    stats.gid,
    stats.size,
    stats.atimeNs / NANOSECONDS_PER_SECOND,
    stats.mtimeNs / NANOSECONDS_PER_SECOND,
    stats.ctimeNs / NANOSECONDS_PER_SECOND,
  ].map(Number);
}

export function createStatFile(args: CommandArguments, context: CommandContext): CommandImplementation {
  const path = args.string('path');
  const confinement = Confinement.of(args, context.logger);
  return {
    async run() {
      let fields: number[];
      try {
        const physical = await confinement.resolve(path);
        fields = statTuple(await confinement.statFollowing(physical));
      } catch (error) {
        reportFilesystemError(context, 'stat', path, error);
        return;
      }
      context.sendStatus([
        ['stat', fields],
        ['rc', 0],
      ]);
    },
    interrupt() {},
    kill() {},
  };
}
