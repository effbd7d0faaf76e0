import { createActor } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import type { AmpConnection } from '../../actors/amp-connection.js';
import type { ConnectOptions } from '../../actors/connect.js';
import { WorkerSession } from '../../actors/worker/session.js';
import { reconnectDelaySeconds, workerSessionMachine } from '../../machines/worker-session.js';
import { FakeMaster } from './fake-master.js';
import { FakeClock, nextNotice, removeDir, tempDir, waitFor } from './helpers.js';

const basedirs: string[] = [];
const sessions: WorkerSession[] = [];

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((session) => session.stop()));
  for (const dir of basedirs.splice(0)) removeDir(dir);
});

/** A session whose connects follow a script: 'fail', or a fake master reached in memory. */
function scriptedSession(script: Array<'fail' | FakeMaster>, options: { maxRetries?: number } = {}) {
  const clock = new FakeClock();
  const basedir = tempDir();
  basedirs.push(basedir);
  let attempts = 0;
  const connect = async (connectOptions: ConnectOptions): Promise<AmpConnection> => {
    const step = script[Math.min(attempts++, script.length - 1)];
    if (step === 'fail' || step === undefined) throw new Error('connect ECONNREFUSED 127.0.0.1:1');
    return step.connectInMemory(connectOptions);
  };
  const session = new WorkerSession({
    master: 'tcp:127.0.0.1:1',
    name: 'w1',
    password: 'secret',
    basedir,
    clock,
    random: () => 0.25,
    connect,
    ...options,
  });
  sessions.push(session);
  const delays: number[] = [];
  session.notices$.subscribe((notice) => {
    if (notice.type === 'retryScheduled') delays.push(notice.delayMs);
  });
  session.start();
  return { session, clock, delays, attempts: () => attempts };
}

/** Lets the pending connect attempt settle (its promise chain only, no timers). */
async function settle(clock: FakeClock, expectedPending = 1): Promise<void> {
  await waitFor(() => clock.pending.length === expectedPending, 2000, 'the next retry timer');
}

describe('reconnect backoff', () => {
  it("follows Twisted's min(1.5^n, 60) s + U(0,1) s", () => {
    expect(reconnectDelaySeconds(1, () => 0)).toBe(1.5);
    expect(reconnectDelaySeconds(2, () => 0.5)).toBe(2.75);
    expect(reconnectDelaySeconds(10, () => 0)).toBeCloseTo(57.665, 3);
    expect(reconnectDelaySeconds(11, () => 0.999)).toBe(60.999);
    expect(reconnectDelaySeconds(5000, () => 0)).toBe(60);
  });

  it('grows with each failed connect, caps at 60 s, and resets when TCP connects', async () => {
    const refusing = new FakeMaster({ password: 'other' });
    const { clock, delays, session } = scriptedSession([...Array<'fail'>(12).fill('fail'), refusing, 'fail']);
    for (let i = 0; i < 12; i++) {
      await settle(clock);
      clock.fireNext();
    }
    // The 13th attempt reaches a master (which refuses the login): the counter starts over.
    await settle(clock);
    expect(refusing.sides).toHaveLength(1);
    clock.fireNext();
    await settle(clock);
    const expected = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((n) => Math.round((Math.min(1.5 ** n, 60) + 0.25) * 1000));
    expect(delays.slice(0, 12)).toEqual(expected);
    expect(delays.slice(0, 12)).toEqual([1750, 2500, 3625, 5313, 7844, 11641, 17336, 25879, 38693, 57915, 60250, 60250]);
    // Refused login → attempt 1 again; the connect failure after it → attempt 2.
    expect(delays.slice(12)).toEqual([1750, 2500]);
    expect(session.state).toBe('disconnected');
  });

  it('counts from zero again after a successful session', async () => {
    const good = new FakeMaster();
    const { clock, delays, session } = scriptedSession(['fail', 'fail', 'fail', good, 'fail']);
    for (let i = 0; i < 3; i++) {
      await settle(clock);
      clock.fireNext();
    }
    const side = await good.attached();
    await waitFor(() => session.state === 'attached', 2000, 'attached');
    side.connection.abort();
    await settle(clock);
    clock.fireNext();
    await settle(clock);
    expect(delays).toEqual([1750, 2500, 3625, 1750, 2500]);
  });

  it('gives up after maxRetries failures in a row', async () => {
    const { clock, delays, session, attempts } = scriptedSession(['fail'], { maxRetries: 3 });
    await settle(clock);
    clock.fireNext();
    await settle(clock);
    clock.fireNext();
    expect(await session.stopped).toBe('gave-up');
    expect(attempts()).toBe(3);
    expect(delays).toHaveLength(2);
    expect(clock.pending).toHaveLength(0);
  });

  it('stops cleanly while waiting out a backoff', async () => {
    const { clock, session } = scriptedSession(['fail']);
    await settle(clock);
    await session.stop();
    expect(await session.stopped).toBe('stopped');
    expect(clock.pending).toHaveLength(0);
  });

  it('reports attached through the notices after a retry', async () => {
    const good = new FakeMaster();
    const { clock, session } = scriptedSession(['fail', good]);
    await settle(clock);
    const attached = nextNotice(session.notices$, 'attached');
    clock.fireNext();
    expect((await attached).transferWindow).toBe(16);
  });
});

describe('workerSession machine', () => {
  it('goes connecting → authenticating → attached → disconnected → connecting', () => {
    const actor = createActor(workerSessionMachine, { input: {} }).start();
    actor.send({ type: 'start' });
    const states = [String(actor.getSnapshot().value)];
    const step = (event: Parameters<typeof actor.send>[0]) => {
      actor.send(event);
      states.push(String(actor.getSnapshot().value));
    };
    step({ type: 'connected' });
    step({ type: 'loggedIn', transferWindow: 4 });
    expect(actor.getSnapshot().context.transferWindow).toBe(4);
    step({ type: 'connectionLost', reason: 'gone' });
    expect(actor.getSnapshot().context).toMatchObject({ attempt: 1, failures: 1, lastError: 'gone', transferWindow: undefined });
    step({ type: 'retry' });
    step({ type: 'stop', reason: 'shutdown' });
    expect(states).toEqual(['connecting', 'authenticating', 'attached', 'disconnected', 'connecting', 'stopped']);
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().context.stopReason).toBe('shutdown');
  });

  it('keeps counting refused logins for maxRetries while the backoff exponent resets', () => {
    const actor = createActor(workerSessionMachine, { input: { maxRetries: 3 } }).start();
    actor.send({ type: 'start' });
    for (let i = 0; i < 2; i++) {
      actor.send({ type: 'connected' });
      actor.send({ type: 'loginRefused', reason: 'bad password' });
      expect(actor.getSnapshot().value).toBe('disconnected');
      expect(actor.getSnapshot().context.attempt).toBe(1);
      actor.send({ type: 'retry' });
    }
    actor.send({ type: 'connected' });
    actor.send({ type: 'loginRefused', reason: 'bad password' });
    expect(actor.getSnapshot().value).toBe('stopped');
    expect(actor.getSnapshot().context.stopReason).toBe('gave-up');
  });

  it('ignores events that do not belong to the state', () => {
    const actor = createActor(workerSessionMachine, { input: {} }).start();
    actor.send({ type: 'connected' });
    expect(actor.getSnapshot().value).toBe('idle');
    actor.send({ type: 'start' });
    actor.send({ type: 'loggedIn', transferWindow: 1 });
    actor.send({ type: 'retry' });
    expect(actor.getSnapshot().value).toBe('connecting');
  });
});
