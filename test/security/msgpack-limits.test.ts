/**
 * The msgpack listener against an attacker: a connection that sends no upgrade is closed at the
 * login deadline, the one past the cap at once, an attached worker that goes silent when an idle
 * timeout is set; failed Basic-auth upgrades are throttled as AMP logins are (held back, then 429
 * when they would wait too long), and the right credentials still get in after the back-off.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { basicAuthHeader } from '../../actors/master/msgpack/basic-auth.js';
import { MsgpackListener, type MsgpackListenerOptions } from '../../actors/master/msgpack/listener.js';
import { quietLogger } from '../buildbot/msgpack-harness.js';
import { RawWorker, upgradeStatus } from '../buildbot/raw-worker.js';
import { closed, memoryLogger, nextRefusal, rawSocket, refusalLines } from './support.js';

const listeners: MsgpackListener[] = [];
afterEach(async () => {
  for (const listener of listeners.splice(0)) await listener.stop();
});

async function start(options: MsgpackListenerOptions = {}): Promise<{ listener: MsgpackListener; port: number }> {
  const listener = new MsgpackListener({ registrations: { w1: 'pw' }, keepaliveIntervalMs: 0, logger: quietLogger, ...options });
  listeners.push(listener);
  const { port } = await listener.start();
  return { listener, port };
}

const upgrade = (port: number, password: string) => upgradeStatus(port, basicAuthHeader('w1', password));

describe('MsgpackListener: connection limits', () => {
  it('closes a connection that sends no upgrade in time, with one warn line naming the peer', async () => {
    const { logger, lines } = memoryLogger();
    const { listener, port } = await start({ logger, loginTimeoutMs: 50 });
    const refused = nextRefusal(listener.refusals$, 'login-deadline');
    const socket = await rawSocket(port);
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    await closed(socket);
    expect((await refused).address).toBe(socket.peer);
    const warned = refusalLines(lines, 'login-deadline');
    expect(warned).toHaveLength(1);
    expect(warned[0]).not.toHaveProperty('err');
  });

  it('refuses the connection past the cap', async () => {
    const { listener, port } = await start({ maxConnections: 1, loginTimeoutMs: 0 });
    const worker = await RawWorker.connect(port);
    const refused = nextRefusal(listener.refusals$, 'connection-cap');
    const second = await rawSocket(port);
    await closed(second);
    expect((await refused).address).toBe(second.peer);
    worker.socket.terminate();
  });

  it('closes an attached worker that goes silent when an idle timeout is set', async () => {
    const { listener, port } = await start({ idleTimeoutMs: 100 });
    const refused = nextRefusal(listener.refusals$, 'idle-timeout');
    // The raw worker answers nothing: once the master's handshake requests are out, all is quiet.
    const worker = await RawWorker.connect(port);
    expect(await refused).toMatchObject({ workerName: 'w1' });
    await worker.closed;
  });
});

describe('MsgpackListener: failed Basic-auth upgrades', () => {
  it('holds back the answer after a few failures, then lets the right password in', async () => {
    const { listener, port } = await start({ loginThrottle: { failuresBeforeDelay: 2, baseDelayMs: 200 } });
    for (let i = 0; i < 2; i++) expect((await upgrade(port, 'wrong')).status).toBe(401);
    const throttled = nextRefusal(listener.refusals$, 'throttled');
    const asked = performance.now();
    const answer = upgrade(port, 'pw');
    const refusal = await throttled;
    expect(refusal).toMatchObject({ workerName: 'w1', address: expect.stringMatching(/^127\.0\.0\.1:/) });
    expect(refusal.delayMs).toBeGreaterThan(0);
    expect((await answer).status).toBe(101);
    // A lower bound only: a loaded machine can make the answer later, never earlier.
    expect(performance.now() - asked).toBeGreaterThanOrEqual((refusal.delayMs ?? 0) - 5);
  });

  it('answers 429 at once to an upgrade that would wait past the bound', async () => {
    const { listener, port } = await start({ loginThrottle: { failuresBeforeDelay: 1, baseDelayMs: 5_000, maxDelayMs: 5_000 } });
    expect((await upgrade(port, 'wrong')).status).toBe(401);
    const queued = nextRefusal(listener.refusals$, 'throttled');
    const first = upgrade(port, 'wrong').catch((error: unknown) => error);
    expect((await queued).delayMs).toBeGreaterThan(0);
    const refusedAtOnce = nextRefusal(listener.refusals$, 'throttled');
    expect((await upgrade(port, 'pw')).status).toBe(429);
    expect(await refusedAtOnce).toMatchObject({ workerName: 'w1', delayMs: 0 });
    // The first is still waiting; stopping the listener ends it.
    await listener.stop();
    await first;
  });
});
