/**
 * The result every transfer reports when it ends, interrupted or not (docs/master-worker-protocol.md §3.4): `rc` and, if
 * something went wrong, one `stderr` text. Buildbot sends these past an interrupt, because the
 * master needs the rc to decide whether to keep the transferred file.
 */
import type { CommandContext } from './command-runner.js';

export class TransferStatus {
  rc = 0;
  stderr: string | null = null;
  interrupted = false;

  /** Records the first problem only; later ones are consequences of it. */
  fail(message: string): void {
    if (this.stderr !== null) return;
    this.stderr = message;
    this.rc = 1;
  }

  interrupt(): void {
    if (this.interrupted) return;
    this.rc = 1;
    this.interrupted = true;
  }

  report(context: CommandContext): void {
    context.sendUpdate(this.stderr === null ? [['rc', this.rc]] : [['rc', this.rc], ['stderr', this.stderr]]);
  }
}

export function maxsizeReachedMessage(path: string): string {
  return `Maximum filesize reached, truncating file '${path}'`;
}
