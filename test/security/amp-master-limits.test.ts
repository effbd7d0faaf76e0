/**
 * The master's AMP listener against an attacker: a connection that never logs in is closed at the
 * login deadline, the one past the cap at once, an idle one when asked; failed logins are
 * published with their reason, and after a few of them the answers are held back (a 'throttled'
 * refusal says so), or refused at once when they would wait too long. The right password still
 * logs in once the back-off is over.
 */
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../actors/connect.js';
import { AmpListener, type AmpListenerOptions } from '../../actors/master/listener.js';
import { ResponderTable } from '../../actors/responders.js';
import { Login, Update } from '../../codec/protocols/worker-commands.js';
import { LoginRefusedError, NotAuthenticatedError } from '../../codec/protocols/worker-errors.js';
import { closed, memoryLogger, nextRefusal, rawSocket, refusalLines } from './support.js';

const listeners: AmpListener[] = [];
afterEach(async () => {
  for (const listener of listeners.splice(0)) await listener.stop();
});

async function start(options: AmpListenerOptions = {}): Promise<{ listener: AmpListener; port: number }> {
  const listener = new AmpListener({ registrations: { w1: 'right' }, keepaliveIntervalMs: 0, ...options });
  listeners.push(listener);
  const { port } = await listener.start();
  return { listener, port };
}

/** One Login over a fresh TCP connection: the answer, or the refusal. */
async function login(port: number, username: string, password: string): Promise<unknown> {
  const amp = await connect(`tcp:127.0.0.1:${port}`, { responders: new ResponderTable() });
  try {
    return await amp.callRemote(Login, { username, password, transferWindow: 1 });
  } catch (error) {
    return error;
  } finally {
    amp.abort();
  }
}

describe('AmpListener: connection limits', () => {
  it('closes a connection that does not log in in time, with one warn line naming the peer', async () => {
    const { logger, lines } = memoryLogger();
    const { listener, port } = await start({ logger, loginTimeoutMs: 50 });
    const refused = nextRefusal(listener.refusals$, 'login-deadline');
    const socket = await rawSocket(port);
    socket.write(Buffer.from([0x00, 0x04, ...Buffer.from('_ask')]));
    await closed(socket);
    expect(await refused).toMatchObject({ reason: 'login-deadline', address: socket.peer });
    const warned = refusalLines(lines, 'login-deadline');
    expect(warned).toHaveLength(1);
    expect(warned[0]).not.toHaveProperty('err');
  });

  it('refuses the connection past the cap', async () => {
    const { listener, port } = await start({ maxConnections: 1, loginTimeoutMs: 0 });
    const first = await connect(`tcp:127.0.0.1:${port}`, { responders: new ResponderTable() });
    // Answered, so accepted for sure: the second connection is one too many.
    await expect(first.callRemote(Update, { commandId: '1', updates: [] })).rejects.toBeInstanceOf(NotAuthenticatedError);
    const refused = nextRefusal(listener.refusals$, 'connection-cap');
    const second = await rawSocket(port);
    await closed(second);
    expect((await refused).address).toBe(second.peer);
    expect(first.isClosed).toBe(false);
    first.abort();
  });

  it('closes an idle connection when an idle timeout is set', async () => {
    const { listener, port } = await start({ idleTimeoutMs: 50, loginTimeoutMs: 0 });
    const refused = nextRefusal(listener.refusals$, 'idle-timeout');
    const socket = await rawSocket(port);
    await closed(socket);
    expect((await refused).address).toBe(socket.peer);
  });
});

describe('AmpListener: failed logins', () => {
  it('publishes each failure with its reason, the claimed name and the address', async () => {
    const { logger, lines } = memoryLogger();
    const { listener, port } = await start({ logger });
    const refusals = firstValueFrom(listener.refusals$.pipe(take(2), toArray()));
    expect(await login(port, 'w1', 'wrong')).toBeInstanceOf(LoginRefusedError);
    expect(await login(port, 'nobody', 'right')).toBeInstanceOf(LoginRefusedError);
    const [bad, unknown] = await refusals;
    expect(bad).toMatchObject({ reason: 'bad-credentials', workerName: 'w1', address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(unknown).toMatchObject({ reason: 'unknown-worker', workerName: 'nobody' });
    expect(refusalLines(lines, 'bad-credentials')).toHaveLength(1);
    expect(refusalLines(lines, 'unknown-worker')).toHaveLength(1);
  });

  it('holds back the answer after a few failures, then lets the right password in', async () => {
    const { listener, port } = await start({ loginThrottle: { failuresBeforeDelay: 2, baseDelayMs: 200 } });
    for (let i = 0; i < 2; i++) expect(await login(port, 'w1', 'wrong')).toBeInstanceOf(LoginRefusedError);
    const throttled = nextRefusal(listener.refusals$, 'throttled');
    const asked = performance.now();
    const answer = login(port, 'w1', 'right');
    const refusal = await throttled;
    expect(refusal).toMatchObject({ workerName: 'w1', address: expect.stringMatching(/^127\.0\.0\.1:/) });
    expect(refusal.delayMs).toBeGreaterThan(0);
    expect(await answer).toEqual({ transferWindow: 1 });
    // A lower bound only: a loaded machine can make the answer later, never earlier.
    expect(performance.now() - asked).toBeGreaterThanOrEqual((refusal.delayMs ?? 0) - 5);
  });

  it('refuses at once, unchecked, a login that would wait past the bound', async () => {
    const { listener, port } = await start({ loginThrottle: { failuresBeforeDelay: 1, baseDelayMs: 5_000, maxDelayMs: 5_000 } });
    expect(await login(port, 'w1', 'wrong')).toBeInstanceOf(LoginRefusedError);
    const queued = nextRefusal(listener.refusals$, 'throttled');
    const first = login(port, 'w1', 'wrong');
    expect((await queued).delayMs).toBeGreaterThan(0);
    // The first waits its turn (up to 5 s); the second would wait past 5 s: refused unchecked, right password or not.
    const refusedAtOnce = nextRefusal(listener.refusals$, 'throttled');
    const second = await login(port, 'w1', 'right');
    expect(second).toBeInstanceOf(LoginRefusedError);
    expect((second as Error).message).toContain('too many failed logins');
    expect(await refusedAtOnce).toMatchObject({ workerName: 'w1', delayMs: 0 });
    // The first is still waiting; stopping the listener ends it.
    await listener.stop();
    expect(await first).toBeInstanceOf(Error);
  });
});
