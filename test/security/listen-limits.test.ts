/**
 * The limits of a plain AMP `listen()`: a connection that stalls in the middle of its first box is
 * closed at the deadline, a complete box disarms it, the connection past the cap is closed at once,
 * and an idle connection is closed when an idle timeout is set. Each is one warn line naming the
 * peer, and one event on `refusals$`.
 */
import type { AddressInfo } from 'node:net';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as amp from '../../codec/types/index.js';
import { defineCommand } from '../../codec/command.js';
import { BoxTooLargeError } from '../../codec/errors.js';
import { encodeBox } from '../../codec/index.js';
import { connect, listen, type AmpServer, type ListenOptions } from '../../actors/connect.js';
import { ConnectionRefusedError } from '../../actors/refusals.js';
import { responders } from '../../actors/responders.js';
import { closed, memoryLogger, nextRefusal, rawSocket, refusalLines } from './support.js';

const Echo = defineCommand({ name: 'Echo', arguments: { text: amp.Unicode }, response: { text: amp.Unicode } });

const servers: AmpServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close({ closeConnections: true });
});

async function serve(options: ListenOptions): Promise<{ server: AmpServer; port: number }> {
  const server = await listen('tcp:0', { responders: () => responders().on(Echo, async ({ text }) => ({ text })), ...options });
  servers.push(server);
  return { server, port: (server.address as AddressInfo).port };
}

/** Half of an AMP box: a key, then a value prefix promising bytes that never come. */
const HALF_A_BOX = Buffer.from([0x00, 0x04, ...Buffer.from('_ask'), 0x00, 0x05, 0x31]);

describe('listen(): connection limits', () => {
  it('closes a connection stalled in its first box at the deadline, and says so once at warn', async () => {
    const { logger, lines } = memoryLogger();
    const { server, port } = await serve({ logger, firstBoxTimeoutMs: 50 });
    const refused = nextRefusal(server.refusals$, 'first-box-deadline');
    const socket = await rawSocket(port);
    socket.write(HALF_A_BOX);
    await closed(socket);
    const refusal = await refused;
    expect(refusal.address).toBe(socket.peer);
    expect(refusal.at).toBeInstanceOf(Date);
    const warned = refusalLines(lines, 'first-box-deadline');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ address: refusal.address });
    expect(warned[0]).not.toHaveProperty('err');
  });

  it('leaves a connection alone once its first box is complete', async () => {
    // The deadline's clock is the test's: a loaded machine cannot make the box late.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { server, port } = await serve({ firstBoxTimeoutMs: 1_000 });
      const refusals = firstValueFrom(server.refusals$.pipe(toArray()));
      const client = await connect(`tcp:127.0.0.1:${port}`);
      await client.callRemote(Echo, { text: 'hi' });
      vi.advanceTimersByTime(10_000);
      expect(await client.callRemote(Echo, { text: 'still here' })).toEqual({ text: 'still here' });
      client.close();
      await client.closed;
      await server.close({ closeConnections: true });
      expect(await refusals).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('closes the connection past the cap at once and keeps the others', async () => {
    const { logger, lines } = memoryLogger();
    const { server, port } = await serve({ logger, maxConnections: 2, firstBoxTimeoutMs: 0 });
    const accepted = firstValueFrom(server.connections$.pipe(take(2), toArray()));
    const first = await rawSocket(port);
    const second = await rawSocket(port);
    const [one, two] = await accepted;
    const refused = nextRefusal(server.refusals$, 'connection-cap');
    const third = await rawSocket(port);
    await closed(third);
    expect((await refused).address).toBe(third.peer);
    expect(refusalLines(lines, 'connection-cap')).toHaveLength(1);
    expect([one?.isClosed, two?.isClosed, first.destroyed, second.destroyed]).toEqual([false, false, false, false]);
    first.destroy();
    second.destroy();
  });

  it('closes an idle connection when an idle timeout is set', async () => {
    const { server, port } = await serve({ idleTimeoutMs: 50, firstBoxTimeoutMs: 0 });
    const connection = firstValueFrom(server.connections$);
    const refused = nextRefusal(server.refusals$, 'idle-timeout');
    const socket = await rawSocket(port);
    await closed(socket);
    expect((await refused).address).toBe(socket.peer);
    expect(await (await connection).closed).toBeInstanceOf(ConnectionRefusedError);
  });

  it('publishes nothing for a connection that behaves', async () => {
    const { server, port } = await serve({ firstBoxTimeoutMs: 10_000, idleTimeoutMs: 10_000 });
    const refusals = firstValueFrom(server.refusals$.pipe(filter(() => true), toArray()));
    const client = await connect(`tcp:127.0.0.1:${port}`);
    expect(await client.callRemote(Echo, { text: 'x' })).toEqual({ text: 'x' });
    client.close();
    await client.closed;
    await server.close({ closeConnections: true });
    expect(await refusals).toEqual([]);
  });
});

describe('listen(): the size of a box', () => {
  /** A box of `pairs` keys, each with a 200-byte value: 2 + 2 + 200 + 2 + 2 (key 'kNN') bytes a pair. */
  function wideBox(pairs: number): Buffer {
    return encodeBox(Object.fromEntries(Array.from({ length: pairs }, (_, i) => [`k${String(i).padStart(2, '0')}`, Buffer.alloc(200, i)])));
  }

  it('closes a connection whose box grows past maxBoxBytes, naming the limit, and keeps serving others', async () => {
    const { server, port } = await serve({ maxBoxBytes: 2_000 });
    const accepted = firstValueFrom(server.connections$);
    const socket = await rawSocket(port);
    // Ten pairs (2,090 bytes with their prefixes) never end: the eleventh prefix is past the limit.
    socket.write(wideBox(12).subarray(0, 2_300));
    const reason = await (await accepted).closed;
    expect(reason).toBeInstanceOf(BoxTooLargeError);
    expect(reason).toMatchObject({ code: 'AMP_ERR_BOX_TOO_LARGE', limit: 2_000 });
    expect(reason.message).toMatch(/limited to 2000 bytes/);
    await closed(socket);
    const client = await connect(`tcp:127.0.0.1:${port}`);
    expect(await client.callRemote(Echo, { text: 'still serving' })).toEqual({ text: 'still serving' });
    client.close();
  });

  it('takes a box up to the limit', async () => {
    const { port } = await serve({ maxBoxBytes: 2_000 });
    const client = await connect(`tcp:127.0.0.1:${port}`);
    // _ask, _command and a 1,900-byte text: 1,935 bytes with prefixes and terminator.
    const text = 'x'.repeat(1_900);
    expect(await client.callRemote(Echo, { text })).toEqual({ text });
    client.close();
  });
});
