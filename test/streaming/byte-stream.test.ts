import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AmpConnection } from '../../actors/amp-connection.js';
import { createMemoryPair } from '../../actors/memory-pair.js';
import { responders, type ResponderTable } from '../../actors/responders.js';
import { MAX_VALUE_LENGTH } from '../../codec/box.js';
import { CallCancelledError, MissingArgumentError, StreamFailedError } from '../../codec/errors.js';
import { Upload, digest, patternBytes } from './commands.js';

function pair(table: ResponderTable) {
  const [a, b] = createMemoryPair();
  return {
    client: new AmpConnection(a, { role: 'client' }),
    server: new AmpConnection(b, { role: 'server', responders: table, streams: true }),
  };
}

/** A responder that reads the whole stream, noting each piece's size. */
function recordingServer() {
  const pieces: number[] = [];
  const table = responders().on(Upload, async ({ content }) => {
    const hash = createHash('sha256');
    let size = 0;
    for await (const piece of content) {
      pieces.push(piece.length);
      hash.update(piece);
      size += piece.length;
    }
    return { size, sha256: hash.digest('hex') };
  });
  return { table, pieces };
}

describe('ByteStream arguments', () => {
  it('round-trips any value cut any way, in pieces of at most 65535 bytes', async () => {
    const piece = fc.integer({ min: 0, max: 150_000 }).map((length) => patternBytes(length, length));
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 6 }), fc.boolean(), async (parts, asOneBuffer) => {
        const { table, pieces } = recordingServer();
        const { client } = pair(table);
        const whole = Buffer.concat(parts);
        async function* source() {
          for (const part of parts) yield part;
        }
        const answer = await client.callRemote(Upload, { name: 'x', content: asOneBuffer ? whole : source() });
        expect(answer).toEqual({ size: whole.length, sha256: digest(whole) });
        expect(pieces.every((length) => length > 0 && length <= MAX_VALUE_LENGTH)).toBe(true);
        client.close();
      }),
      { numRuns: 25 },
    );
  });

  it('takes text, and gives the whole value to a responder that asks for it', async () => {
    const table = responders().on(Upload, async ({ content }) => {
      const text = await content.text();
      return { size: text.length, sha256: text.slice(0, 8) };
    });
    const { client } = pair(table);
    const text = 'é'.repeat(70_000);
    await expect(client.callRemote(Upload, { name: 't', content: text })).resolves.toEqual({ size: 70_000, sha256: 'éééééééé' });
  });

  it('fails the call and the receiver\'s stream when the source fails', async () => {
    let seen: unknown;
    const table = responders().on(Upload, async ({ content }) => {
      try {
        await content.bytes();
      } catch (error) {
        seen = error;
        throw error;
      }
      return { size: 0, sha256: '' };
    });
    const { client, server } = pair(table);
    const broken = new Error('disk on fire');
    async function* source() {
      yield patternBytes(200_000);
      throw broken;
    }
    await expect(client.callRemote(Upload, { name: 'x', content: source() })).rejects.toBe(broken);
    await expect.poll(() => seen).toBeInstanceOf(StreamFailedError);
    expect((seen as StreamFailedError).reason).toBe('disk on fire');
    // A failed stream is an expected outcome: the connection stays up.
    await expect(client.callRemote(Upload, { name: 'y', content: 'fine' })).resolves.toEqual({ size: 0, sha256: '' });
    expect(client.isClosed).toBe(false);
    expect(server.isClosed).toBe(false);
  });

  it('stops sending once the responder has failed', async () => {
    const table = responders().on(Upload, async ({ content }) => {
      for await (const _ of content) throw new Error('no thanks');
      return { size: 0, sha256: '' };
    });
    const { client } = pair(table);
    let produced = 0;
    async function* endless() {
      while (produced < 500) {
        produced += 1;
        yield patternBytes(MAX_VALUE_LENGTH);
      }
    }
    await expect(client.callRemote(Upload, { name: 'x', content: endless() })).rejects.toThrow('Code<UNKNOWN>');
    expect(produced).toBeLessThan(100);
  });

  it('is cancelled by an AbortSignal: the call fails and the receiver\'s stream errors', async () => {
    let seen: unknown;
    const table = responders().on(Upload, async ({ content }) => {
      try {
        for await (const _ of content);
      } catch (error) {
        seen = error;
      }
      return { size: 0, sha256: 'unused' };
    });
    const { client, server } = pair(table);
    const controller = new AbortController();
    // The caller gives up in the middle of the value (from inside the source: no timing involved).
    async function* endless() {
      for (let sent = 0; ; sent++) {
        if (sent === 20) controller.abort();
        yield patternBytes(MAX_VALUE_LENGTH);
      }
    }
    const call = client.callRemote(Upload, { name: 'x', content: endless() }, { signal: controller.signal });
    await expect(call).rejects.toBeInstanceOf(CallCancelledError);
    await expect.poll(() => seen).toBeInstanceOf(StreamFailedError);
    expect(server.isClosed).toBe(false);
  });

  it('throws argument errors at once, before any stream is opened', () => {
    const { table } = recordingServer();
    const { client, server } = pair(table);
    expect(() => client.callRemote(Upload, { content: 'x' } as never)).toThrow(MissingArgumentError);
    expect(client.pendingCalls).toBe(0);
    expect(server.pendingCalls).toBe(0);
  });

  it('refuses a ByteStream outside a connection, and on a connection that was not told to take streams', async () => {
    expect(() => Upload.encodeRequest('1', { name: 'x', content: Buffer.from('y') })).toThrow(/through an AmpConnection/);
    const [a, b] = createMemoryPair();
    const client = new AmpConnection(a);
    new AmpConnection(b, { role: 'server', responders: recordingServer().table });
    await expect(client.callRemote(Upload, { name: 'x', content: 'y' })).rejects.toThrow('UNHANDLED');
  });
});
