/**
 * Model-based test of the masterConnection machine: every shortest and simple path (with concrete
 * payload variants) is replayed against a real MasterConnection on an in-memory AMP pair, whose far
 * end is a scripted worker speaking real boxes. The transport's close is held until the test
 * releases it, so `detaching` (we aborted, the close has not come yet) is a state one can see.
 *
 * After every step the state the connection's BEHAVIOUR shows must equal the machine's state:
 * - detached: its disconnect subscribers were told (and `detached` resolved) with the machine's reason;
 * - detaching: it has destroyed its transport itself (the test did not), and nobody was told yet;
 * - attached: `attach()` resolved, and a keepalive tick makes it send a Keepalive;
 * - attaching: none of these, and a keepalive tick sends nothing.
 * The machine the actor runs (`connection.machine`) must agree as well.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AmpConnection } from '../../actors/amp-connection.js';
import { KeepaliveTimeoutError } from '../../actors/master/errors.js';
import { MasterConnection } from '../../actors/master/master-connection.js';
import { ResponderTable } from '../../actors/responders.js';
import { NotAuthenticatedError } from '../../codec/protocols/worker-errors.js';
import { masterConnectionMachine, type MasterConnectionEvent } from '../../machines/master-connection.js';
import { workerResponders } from '../contract/harnesses.js';
import { ScriptedWorker } from '../contract/scripted-worker.js';
import { deferred, gatedMemoryPair } from './gated-pair.js';
import { eventLabel, eventually, modelPaths, uncoveredTransitions } from './model-paths.js';

/** A machine event plus how the test brings it about (`via`), when there is more than one way. */
type Event = MasterConnectionEvent & { readonly via?: string };

const KEEPALIVE_INTERVAL_MS = 60_000;
const KEEPALIVE_TIMEOUT_MS = 25;
const MISSED = new KeepaliveTimeoutError('w1', KEEPALIVE_TIMEOUT_MS).message;
const DEFAULT_DROP = 'connection dropped by the master';

// Every reason is the exact message the actor reports, so the machine's `reason` can be compared.
const EVENTS: readonly Event[] = [
  { type: 'handshakeDone' },
  { type: 'handshakeFailed', reason: 'print refused', via: 'print' },
  { type: 'handshakeFailed', reason: 'info refused', via: 'info' },
  { type: 'loseRequested', reason: 'worker unregistered' },
  { type: 'loseRequested', reason: DEFAULT_DROP },
  { type: 'keepaliveMissed', reason: MISSED, via: 'silence' },
  { type: 'keepaliveMissed', reason: MISSED, via: 'error' },
  { type: 'transportClosed', reason: 'connection was closed cleanly', via: 'peer' },
  { type: 'transportClosed', reason: 'connection lost: ECONNRESET', via: 'reset' },
];
// Once we aborted, the only close left is the one we asked for: releasing it is the event.
const CLOSE_OF_ABORT: Event = { type: 'transportClosed', reason: 'the close of our abort', via: 'release' };

function subject() {
  const pair = gatedMemoryPair();
  const script = new ScriptedWorker();
  const firstPrint = deferred();
  let prints = 0;
  script.handlers.print = () => (++prints === 1 ? firstPrint.promise : Promise.resolve());
  const workerAmp = new AmpConnection(pair.far, { role: 'client', responders: workerResponders(script), name: 'worker' });
  const amp = new AmpConnection(pair.near, { role: 'server', responders: new ResponderTable(), name: 'master' });
  const connection = new MasterConnection(amp, {
    name: 'w1',
    builders: [['b', 'build-b']],
    keepaliveIntervalMs: KEEPALIVE_INTERVAL_MS,
    keepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS,
  });
  const seen = {
    attach: 'pending' as 'pending' | 'resolved' | 'rejected',
    told: undefined as Error | undefined,
    testClosed: false,
  };
  // The handshake is under way from the start, held at its first print.
  connection.attach().then(
    () => (seen.attach = 'resolved'),
    () => (seen.attach = 'rejected'),
  );
  connection.notifyOnDisconnect((reason) => (seen.told = reason));

  /** The state as the connection's behaviour shows it. */
  const observe = (): string => {
    if (seen.told !== undefined) return 'detached';
    if (pair.near.destroyed && !seen.testClosed) return 'detaching';
    if (pair.near.destroyed) return 'closing (test)';
    return seen.attach === 'resolved' ? 'attached' : seen.attach === 'pending' ? 'attaching' : `attaching (attach ${seen.attach})`;
  };

  /** One keepalive tick: whether it made the connection send a Keepalive (then waits for its answer). */
  const keepaliveTick = async (): Promise<boolean> => {
    const before = script.callsOf('keepalive').length;
    const pending = amp.pendingCalls;
    vi.advanceTimersByTime(KEEPALIVE_INTERVAL_MS);
    const sent = amp.pendingCalls > pending;
    if (sent) {
      await eventually(() => script.callsOf('keepalive').length, before + 1);
      await eventually(() => amp.pendingCalls, pending);
    }
    return sent;
  };

  const act = async (event: Event, state: string): Promise<void> => {
    switch (event.type) {
      case 'handshakeDone':
        firstPrint.resolve();
        await eventually(() => seen.attach, 'resolved');
        break;
      case 'handshakeFailed':
        if (event.via === 'print') firstPrint.reject(new NotAuthenticatedError(event.reason));
        else {
          script.handlers.getWorkerInfo = () => Promise.reject(new NotAuthenticatedError(event.reason));
          firstPrint.resolve();
        }
        break;
      case 'loseRequested':
        connection.loseConnection(event.reason === DEFAULT_DROP ? undefined : new Error(event.reason));
        break;
      case 'keepaliveMissed':
        script.handlers.keepalive = () =>
          event.via === 'silence' ? new Promise<void>(() => undefined) : Promise.reject(new NotAuthenticatedError('no keepalive'));
        vi.advanceTimersByTime(KEEPALIVE_INTERVAL_MS);
        break;
      case 'transportClosed':
        if (state === 'detaching') {
          pair.release();
        } else {
          seen.testClosed = true;
          pair.release();
          if (event.via === 'peer') pair.far.destroy();
          else pair.near.destroy(new Error('ECONNRESET'));
        }
        await connection.detached;
        break;
    }
  };

  const cleanup = async () => {
    firstPrint.resolve();
    pair.release();
    pair.far.destroy();
    await Promise.all([amp.closed, workerAmp.closed, connection.detached]);
  };
  return { connection, seen, observe, keepaliveTick, act, cleanup };
}

const eventsIn = (snapshot: { value: unknown }): readonly Event[] => (snapshot.value === 'detaching' ? [CLOSE_OF_ABORT] : EVENTS);
// The reason is kept once, so the graph is finite; the limit makes a mistake there fail loudly.
const paths = modelPaths(masterConnectionMachine, eventsIn, { label: eventLabel, limit: 10_000 });

describe('masterConnection machine ≡ MasterConnection', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('has paths through every state and every transition', () => {
    const reached = new Set(paths.flatMap((path) => path.steps.map((step) => step.expected)));
    expect([...reached].sort()).toEqual(['attached', 'detached', 'detaching']);
    expect(uncoveredTransitions(masterConnectionMachine, eventsIn, paths, { label: eventLabel })).toEqual([]);
  });

  for (const path of paths) {
    it(path.name, async () => {
      const s = subject();
      expect(s.observe()).toBe('attaching');
      expect(s.connection.state).toBe('attaching');
      let state = 'attaching';
      for (const step of path.steps) {
        await s.act(step.event, state);
        state = step.expected;
        expect(await eventually(s.observe, step.expected)).toBe(step.expected);
        expect(s.connection.machine.getSnapshot().value).toBe(step.expected);
        // Only an attached connection keeps the worker alive with keepalives.
        expect(await s.keepaliveTick()).toBe(step.expected === 'attached');
        if (step.expected === 'detached') {
          // Whatever the cause, subscribers hear the machine's reason (the first one recorded).
          const reason = (step.snapshot.context as { reason: string | undefined }).reason;
          expect(s.seen.told?.message).toBe(reason);
          expect((await s.connection.detached).message).toBe(reason);
        }
      }
      await s.cleanup();
    });
  }
});
