/**
 * How Buildbot's filesystem commands report a failed system call (docs/master-worker-protocol.md §3.2): a header naming the
 * command, the C library's error text and the path, and the errno as rc.
 */
import type { CommandContext } from './command-runner.js';
import { systemErrorDetails } from './errno-text.js';

/** Sends the failure as status; rethrows anything that is not a system-call error (it fails the command). */
export function reportFilesystemError(context: CommandContext, commandHeader: string, path: string, error: unknown): void {
  const details = systemErrorDetails(error);
  if (details === undefined) throw error;
  context.logger?.info({ err: error, path }, `${commandHeader} failed`);
  context.sendStatus([
    ['header', `${commandHeader}: ${details.strerror}: ${path}`],
    ['rc', details.errno],
  ]);
}
