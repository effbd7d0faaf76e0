/**
 * AmpCommandChannel.sendUpdate says whether the master took every entry: a command whose updates
 * form a byte stream (`trial_amp`) stops on false rather than leave a gap in it.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AmpConnection } from '../../actors/amp-connection.js';
import { AmpCommandChannel } from '../../actors/worker/command-channel.js';
import { Update } from '../../codec/protocols/worker-commands.js';

/** A connection whose master answers Update as `answer` says. */
function master(answer: () => Promise<unknown>): AmpConnection {
  return { callRemote: (command: unknown) => (command === Update ? answer() : Promise.resolve({})) } as unknown as AmpConnection;
}

function channel(connection: AmpConnection): AmpCommandChannel {
  const channel = new AmpCommandChannel(connection, 'cmd', { transferWindow: 1, logger: pino({ enabled: false }) });
  channel.release();
  return channel;
}

describe('AmpCommandChannel.sendUpdate', () => {
  it('is true when the master accepted the update', async () => {
    expect(await channel(master(() => Promise.resolve({}))).sendUpdate([['stdout', 'hello\n']])).toBe(true);
  });

  it('is false when the master answered with an error', async () => {
    expect(await channel(master(() => Promise.reject(new Error('refused')))).sendUpdate([['trial_amp', Buffer.from('x')]])).toBe(false);
  });

  it('is false when an entry could not be sent at all (over one AMP value)', async () => {
    const huge = Array.from({ length: 20_000 }, (_, i) => `file-${i}`);
    expect(await channel(master(() => Promise.resolve({}))).sendUpdate([['files', huge]])).toBe(false);
  });
});
