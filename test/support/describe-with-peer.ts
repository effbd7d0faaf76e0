import { describe, it } from 'vitest';

/** Whether a real peer (Twisted, buildbot-worker) can be run here, and why not. */
export interface PeerAvailability {
  readonly available: boolean;
  readonly reason: string;
}

export const IN_CI = process.env.CI === 'true';

/**
 * A describe block that needs a real peer. The one rule for every interop suite: with the peer it
 * runs; without it under CI=true a single test fails naming what is missing (CI never passes by
 * running nothing); elsewhere the block is skipped with the reason in its name and on stderr, so a
 * developer without the Debian packages still gets a useful `npm test`.
 */
export function describeWithPeer(name: string, peer: PeerAvailability, body: () => void): void {
  if (peer.available) {
    describe(name, body);
    return;
  }
  if (IN_CI) {
    describe(name, () => {
      it('has its real peer (CI=true: a missing peer is a failure, never a skip)', () => {
        throw new Error(`${name} cannot run under CI: ${peer.reason}`);
      });
    });
    return;
  }
  process.stderr.write(`[peers] skipping "${name}": ${peer.reason}\n`);
  describe.skip(`${name} [skipped: ${peer.reason}]`, body);
}
