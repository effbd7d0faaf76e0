/** `cpdir`: copy a directory tree with `cp`, keeping links, modes and times (docs/master-worker-protocol.md §3.5). */
import { existsSync } from 'node:fs';
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { Confinement } from './confinement.js';
import { HelperProcessRunner } from './helper-process.js';

export const CPDIR_COMMAND_CLASS = 'CopyDirectory';
export const CPDIR_REQUIRED_ARGS = ['to_path', 'from_path'] as const;
const DEFAULT_TIMEOUT_SECONDS = 120;

function copyCommand(fromPath: string, toPath: string): string[] {
  // Solaris and AIX cp have no -v.
  const verbose = process.platform === 'sunos' || process.platform === 'aix' ? [] : ['-v'];
  return ['cp', '-R', '-P', '-p', ...verbose, fromPath, toPath];
}

export function createCopyDirectory(args: CommandArguments, context: CommandContext): CommandImplementation {
  const fromPath = args.string('from_path');
  const toPath = args.string('to_path');
  const confinement = Confinement.of(args, context.logger);
  const helpers = new HelperProcessRunner(context, {
    timeout: args.optionalNumber('timeout', DEFAULT_TIMEOUT_SECONDS),
    maxTime: args.optionalNumber('maxTime'),
    logEnviron: args.flag('logEnviron', true),
  });
  return {
    async run() {
      // `cp -P` copies a source link as a link; the target is followed, as cp follows it.
      const fromPhysical = await confinement.resolve(fromPath, { followLast: false });
      const toPhysical = await confinement.resolve(toPath);
      await confinement.makeParent(toPhysical);
      if (existsSync(toPhysical)) {
        // cp would then copy *into* the target; Buildbot only warns about it.
        context.logger?.warn({ toPath }, 'cpdir target already exists; cp will copy into it');
      }
      const rc = await helpers.run(copyCommand(fromPhysical, toPhysical));
      context.sendStatus([['rc', rc]]);
    },
    interrupt() {},
    kill() {
      helpers.kill();
    },
  };
}
