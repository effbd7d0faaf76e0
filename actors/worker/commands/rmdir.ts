/**
 * `rmdir`: remove directory trees (or files) with `rm -rf` (docs/master-worker-protocol.md §3.5). Every path is tried; the
 * rc of the last failure wins. An interrupt does not stop the removal (as in Buildbot), it only
 * suppresses the final rc.
 */
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { Confinement } from './confinement.js';
import { InvalidArgumentError } from './errors.js';
import { HelperProcessRunner } from './helper-process.js';

export const RMDIR_COMMAND_CLASS = 'RemoveDirectory';
export const RMDIR_REQUIRED_ARGS = ['paths'] as const;
const DEFAULT_TIMEOUT_SECONDS = 120;

/** Makes a tree writable so that a second `rm -rf` can get past directories left with mode 000. */
function chmodCommand(path: string): string[] {
  // FreeBSD's `chmod -R` descends before it changes a directory's mode, so it cannot fix mode 000.
  if (process.platform === 'freebsd') return ['find', path, '-exec', 'chmod', 'u+rwx', '{}', ';'];
  return ['chmod', '-Rf', 'u+rwx', path];
}

export function createRemoveDirectory(args: CommandArguments, context: CommandContext): CommandImplementation {
  const paths = args.stringList('paths');
  if (paths.length === 0) throw new InvalidArgumentError(RMDIR_COMMAND_CLASS, 'paths', 'a non-empty list of strings');
  const confinement = Confinement.of(args, context.logger);
  const helpers = new HelperProcessRunner(context, {
    timeout: args.optionalNumber('timeout', DEFAULT_TIMEOUT_SECONDS),
    maxTime: args.optionalNumber('maxTime'),
    logEnviron: args.flag('logEnviron', true),
  });

  async function removeOne(requested: string): Promise<number> {
    // A link at the end is removed itself, never followed; the entry is taken through its pinned
    // parent (Confinement.removeEntry), so a directory swapped for a link cannot redirect rm.
    const physical = await confinement.resolve(requested, { followLast: false });
    return confinement.removeEntry(physical, async (path) => {
      const rc = await helpers.run(['rm', '-rf', path]);
      if (rc === 0) return 0;
      await helpers.run(chmodCommand(path));
      return helpers.run(['rm', '-rf', path]);
    });
  }

  return {
    async run() {
      let overallRc = 0;
      for (const path of paths) {
        const rc = await removeOne(path);
        if (rc !== 0) overallRc = rc;
      }
      context.sendStatus([['rc', overallRc]]);
    },
    interrupt() {},
    kill() {
      helpers.kill();
    },
  };
}
