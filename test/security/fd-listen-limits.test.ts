/**
 * The limits of `listen()` on a `unix:…:fds=yes` socket (descriptor passing over usocket): a
 * connection stalled in its first box is closed at the deadline, the connection past the cap is
 * closed at once, an idle one is closed when an idle timeout is set; each is one event on
 * `refusals$` naming the socket's path, and one warn line.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, expect, it } from 'vitest';
import { defineCommand } from '../../codec/command.js';
import * as amp from '../../codec/types/index.js';
import { connect, listen, type AmpServer, type ListenOptions } from '../../actors/connect.js';
import { ConnectionRefusedError } from '../../actors/refusals.js';
import { responders } from '../../actors/responders.js';
import { loadUsocket } from '../../actors/unix-fd-socket.js';
import { describeWithPeer, type PeerAvailability } from '../support/describe-with-peer.js';
import { temporaryDirectory } from '../support/temp-directory.js';
import { closed, memoryLogger, nextRefusal, refusalLines } from './support.js';

const Echo = defineCommand({ name: 'Echo', arguments: { text: amp.Unicode }, response: { text: amp.Unicode } });

/** Half of an AMP box: a key, then a value prefix promising bytes that never come. */
const HALF_A_BOX = Buffer.from([0x00, 0x04, ...Buffer.from('_ask'), 0x00, 0x05, 0x31]);

function addonAvailability(): PeerAvailability {
  try {
    loadUsocket();
    return { available: true, reason: '' };
  } catch (error) {
    return { available: false, reason: (error as Error).message };
  }
}

const servers: AmpServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close({ closeConnections: true });
});

async function serve(options: ListenOptions): Promise<{ server: AmpServer; path: string }> {
  const path = join(temporaryDirectory('ampstate-fd-limits-'), 'amp.sock');
  const server = await listen(`unix:path=${path}:fds=yes`, { responders: () => responders().on(Echo, async ({ text }) => ({ text })), ...options });
  servers.push(server);
  return { server, path };
}

/** A plain UNIX stream connection to the socket, once connected: the peer needs no addon to stall. */
function rawUnixSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ path }, () => resolve(socket));
    socket.once('error', reject);
  });
}

describeWithPeer('listen() on an fds=yes UNIX socket: connection limits', addonAvailability(), () => {
  it('closes a connection stalled in its first box at the deadline, and says so once at warn', async () => {
    const { logger, lines } = memoryLogger();
    const { server, path } = await serve({ logger, firstBoxTimeoutMs: 50 });
    const refused = nextRefusal(server.refusals$, 'first-box-deadline');
    const socket = await rawUnixSocket(path);
    socket.write(HALF_A_BOX);
    await closed(socket);
    expect((await refused).address).toBe(path);
    const warned = refusalLines(lines, 'first-box-deadline');
    expect(warned).toHaveLength(1);
    expect(warned[0]).not.toHaveProperty('err');
  });

  it('closes the connection past the cap at once and keeps the others', async () => {
    const { logger, lines } = memoryLogger();
    const { server, path } = await serve({ logger, maxConnections: 2, firstBoxTimeoutMs: 0 });
    const accepted = firstValueFrom(server.connections$.pipe(take(2), toArray()));
    const first = await rawUnixSocket(path);
    const second = await rawUnixSocket(path);
    const [one, two] = await accepted;
    const refused = nextRefusal(server.refusals$, 'connection-cap');
    const third = await rawUnixSocket(path);
    await closed(third);
    expect((await refused).address).toBe(path);
    expect(refusalLines(lines, 'connection-cap')).toHaveLength(1);
    expect([one?.isClosed, two?.isClosed, first.destroyed, second.destroyed]).toEqual([false, false, false, false]);
    first.destroy();
    second.destroy();
  });

  it('closes an idle connection when an idle timeout is set', async () => {
    const { server, path } = await serve({ idleTimeoutMs: 50, firstBoxTimeoutMs: 0 });
    const connection = firstValueFrom(server.connections$);
    const refused = nextRefusal(server.refusals$, 'idle-timeout');
    const socket = await rawUnixSocket(path);
    await closed(socket);
    expect((await refused).address).toBe(path);
    expect(await (await connection).closed).toBeInstanceOf(ConnectionRefusedError);
  });

  it('still serves a connection that behaves', async () => {
    const { server, path } = await serve({ firstBoxTimeoutMs: 10_000, idleTimeoutMs: 10_000 });
    const refusals = firstValueFrom(server.refusals$.pipe(toArray()));
    const client = await connect(`unix:path=${path}:fds=yes`);
    expect(await client.callRemote(Echo, { text: 'x' })).toEqual({ text: 'x' });
    client.close();
    await client.closed;
    await server.close({ closeConnections: true });
    expect(await refusals).toEqual([]);
  });
});
