/**
 * Model-based test of the workerSession machine: every shortest and simple path (payload variants
 * included, counters bounded) is replayed against a real WorkerSession. The test plays the network
 * and the master: each connection attempt is a dial the test resolves (an in-memory AMP pair whose
 * far end is a master that answers Login when told) or fails; the retry timer is a fake clock.
 *
 * After every step the state shown by the session's BEHAVIOUR must equal the machine's:
 * - idle: nothing was dialled, nothing is open, no timer is set;
 * - connecting: a dial is outstanding, no connection is open, no retry is scheduled;
 * - authenticating: one connection is open and its Login is waiting for the master's answer;
 * - attached: Login was answered, the connection is open, and the worker answers the master's Print;
 * - disconnected: no connection is open, no dial is outstanding, one retry timer is set, and its
 *   delay is Buildbot's backoff for the machine's `attempt`;
 * - stopped: `stopped` resolved with the machine's `stopReason`, nothing is open, no timer is left.
 * The transfer window reported on attach and the reason of the last failure (in the log) must
 * match the machine's context, and the machine the actor runs must agree.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { AmpConnection } from '../../actors/amp-connection.js';
import type { ConnectOptions } from '../../actors/connect.js';
import { createMemoryPair } from '../../actors/memory-pair.js';
import { ResponderTable } from '../../actors/responders.js';
import { WorkerSession, type WorkerSessionNotice } from '../../actors/worker/session.js';
import { Login, Print, Shutdown } from '../../codec/protocols/worker-commands.js';
import { LoginRefusedError } from '../../codec/protocols/worker-errors.js';
import {
  reconnectDelaySeconds,
  workerSessionMachine,
  type WorkerSessionContext,
  type WorkerSessionEvent,
} from '../../machines/worker-session.js';
import { FakeClock, memoryLogger } from '../worker/helpers.js';
import { deferred, type Deferred } from './gated-pair.js';
import { eventLabel, eventually, modelPaths, uncoveredTransitions, type ModelPathOptions } from './model-paths.js';

const OFFERED_WINDOW = 8;
const basedir = mkdtempSync(join(tmpdir(), 'ampstate-ws-model-'));
afterAll(() => rmSync(basedir, { recursive: true, force: true }));

// Reasons are what the session reports, so the machine's `lastError` can be compared with the log.
const EVENTS: readonly WorkerSessionEvent[] = [
  { type: 'start' },
  { type: 'connected' },
  { type: 'connectFailed', reason: 'connect ECONNREFUSED 127.0.0.1:1' },
  { type: 'connectFailed', reason: 'connection attempt timed out' },
  { type: 'loggedIn', transferWindow: 1 },
  { type: 'loggedIn', transferWindow: 4 },
  { type: 'loginRefused', reason: "invalid login for worker 'w1'" },
  { type: 'connectionLost', reason: 'connection was closed cleanly' },
  { type: 'connectionLost', reason: 'connection lost: ECONNRESET' },
  { type: 'retry' },
  { type: 'stop', reason: 'stopped' },
  { type: 'stop', reason: 'shutdown' },
];

interface Dial {
  readonly result: Deferred<AmpConnection>;
  readonly options: ConnectOptions;
}

/** The master's end of one connection: Login waits until the test answers it. */
interface MasterEnd {
  readonly amp: AmpConnection;
  readonly workerEnd: Duplex;
  readonly login: Deferred<{ transferWindow: number }>;
  asked: boolean;
  refused: boolean;
}

function subject(maxRetries: number | undefined) {
  const clock = new FakeClock();
  const { logger, lines } = memoryLogger();
  const dials: Dial[] = [];
  const masters: MasterEnd[] = [];
  const notices: WorkerSessionNotice[] = [];
  const seen = { stopped: undefined as string | undefined };
  const session = new WorkerSession({
    master: 'tcp:127.0.0.1:1',
    name: 'w1',
    password: 'secret',
    basedir,
    environ: { PATH: process.env.PATH },
    transferWindow: OFFERED_WINDOW,
    maxRetries,
    logger,
    clock,
    random: () => 0,
    shutdownDelayMs: 0,
    connect: (options) => {
      const result = deferred<AmpConnection>();
      dials.push({ result, options });
      return result.promise;
    },
  });
  session.notices$.subscribe((notice) => notices.push(notice));
  void session.stopped.then((reason) => (seen.stopped = reason));

  const openMasters = () => masters.filter((master) => !master.amp.isClosed);
  const pendingDial = () => dials.find((dial) => !dial.result.settled);

  /** The state as the session's behaviour shows it (see the file comment). */
  const observe = async (): Promise<string> => {
    const open = openMasters();
    const dialing = pendingDial() !== undefined;
    const timers = clock.pending.length;
    if (seen.stopped !== undefined) return timers === 0 && open.length === 0 ? 'stopped' : `stopped with ${timers} timers, ${open.length} open`;
    if (timers === 0 && open.length === 0 && dials.length === 0) return 'idle';
    if (timers === 1 && open.length === 0 && !dialing) return 'disconnected';
    if (timers === 0 && open.length === 0 && dialing) return 'connecting';
    if (timers === 0 && open.length === 1 && !dialing) {
      const master = open[0]!;
      if (master.asked && !master.login.settled) return 'authenticating';
      // Answered, and the worker now serves the master (it holds a Print until its login is settled).
      if (master.asked && master.login.settled && !master.refused) {
        return master.amp.callRemote(Print, { message: 'probe' }).then(
          () => 'attached',
          (error: Error) => `attached? the Print probe failed: ${error.message}`,
        );
      }
    }
    return JSON.stringify({ timers, open: open.length, dialing });
  };

  const act = async (event: WorkerSessionEvent, state: string): Promise<void> => {
    switch (event.type) {
      case 'start':
        session.start();
        break;
      case 'connected': {
        const dial = pendingDial()!;
        const [workerEnd, masterEnd] = createMemoryPair();
        const master: MasterEnd = {
          workerEnd,
          login: deferred(),
          asked: false,
          refused: false,
          amp: new AmpConnection(masterEnd, {
            role: 'server',
            name: 'master',
            responders: new ResponderTable().on(Login, ({ username, password }) => {
              expect([username, password]).toEqual(['w1', 'secret']);
              master.asked = true;
              return master.login.promise;
            }),
          }),
        };
        masters.push(master);
        dial.result.resolve(new AmpConnection(workerEnd, { ...dial.options, role: 'client' }));
        await eventually(() => master.asked, true);
        break;
      }
      case 'connectFailed':
        pendingDial()!.result.reject(new Error(event.reason));
        break;
      case 'loggedIn':
        openMasters()[0]!.login.resolve({ transferWindow: event.transferWindow });
        break;
      case 'loginRefused':
        openMasters()[0]!.refused = true;
        openMasters()[0]!.login.reject(new LoginRefusedError(event.reason));
        break;
      case 'connectionLost': {
        const master = openMasters()[0]!;
        if (event.reason.includes('ECONNRESET')) master.workerEnd.destroy(new Error('ECONNRESET'));
        else master.amp.close();
        break;
      }
      case 'retry':
        clock.fireNext();
        break;
      case 'stop':
        // A master's shutdown reaches an attached worker over the wire; otherwise the daemon stops it.
        if (event.reason === 'shutdown' && state === 'attached') {
          await openMasters()[0]!.amp.callRemote(Shutdown, {});
          // The session stops after its shutdown delay, on its clock.
          expect(clock.pending.map((timer) => timer.delayMs)).toEqual([0]);
          clock.fireNext();
        } else void session.stop(event.reason);
        await session.stopped;
        break;
    }
  };

  /** Checks of the machine's context against what the session did. */
  const checkContext = async (state: string, context: WorkerSessionContext): Promise<void> => {
    // The session's own failure lines (its connections log their closes too).
    const failures = lines.filter((line) => /^(connection to master failed|master refused the login|lost connection to master)/.test(line.msg));
    if (state === 'disconnected') {
      const delayMs = Math.round(reconnectDelaySeconds(context.attempt, () => 0) * 1000);
      expect(clock.pending[0]?.delayMs).toBe(delayMs);
      expect(notices.filter((notice) => notice.type === 'retryScheduled').at(-1)).toEqual({ type: 'retryScheduled', attempt: context.attempt, delayMs });
      expect(failures.at(-1)?.reason).toBe(context.lastError);
    }
    if (state === 'attached') {
      expect(notices.filter((notice) => notice.type === 'attached').at(-1)).toEqual({ type: 'attached', transferWindow: context.transferWindow });
    }
    if (state === 'stopped') {
      expect(seen.stopped).toBe(context.stopReason);
      expect(await session.stopped).toBe(context.stopReason);
    }
  };

  const cleanup = async () => {
    void session.stop();
    await session.stopped;
    for (const dial of dials) if (!dial.result.settled) dial.result.reject(new Error('test over'));
    for (const master of masters) master.amp.abort();
    await Promise.all(masters.map((master) => master.amp.closed));
  };
  return { session, observe, act, checkContext, cleanup };
}

function suite(title: string, maxRetries: number | undefined, options: ModelPathOptions) {
  describe(title, () => {
    const paths = modelPaths(workerSessionMachine, EVENTS, { label: eventLabel, input: { maxRetries }, ...options });

    it('has paths through every state and every transition', () => {
      const reached = new Set(paths.flatMap((path) => path.steps.map((step) => step.expected)));
      expect([...reached].sort()).toEqual(['attached', 'authenticating', 'connecting', 'disconnected', 'stopped']);
      // `idle` is where every path begins; nothing leads back to it.
      expect(uncoveredTransitions(workerSessionMachine, EVENTS, paths, { label: eventLabel, input: { maxRetries } })).toEqual([]);
    });

    for (const path of paths) {
      it(path.name, async () => {
        const s = subject(maxRetries);
        expect(await eventually(s.observe, 'idle')).toBe('idle');
        expect(s.session.state).toBe('idle');
        let state = 'idle';
        for (const step of path.steps) {
          await s.act(step.event, state);
          state = step.expected;
          expect(await eventually(s.observe, step.expected)).toBe(step.expected);
          expect(s.session.machine.getSnapshot().value).toBe(step.expected);
          await s.checkContext(step.expected, step.snapshot.context as WorkerSessionContext);
        }
        await s.cleanup();
      });
    }
  });
}

// Counters make the graph infinite: a vertex keeps them only up to 2, and exploring stops past it.
const bounded = (snapshot: { value: unknown; context: WorkerSessionContext }) =>
  `${String(snapshot.value)}|${Math.min(snapshot.context.attempt, 2)}|${Math.min(snapshot.context.failures, 2)}|${snapshot.context.transferWindow}`;

suite('workerSession machine ≡ WorkerSession (retries forever)', undefined, {
  serializeState: bounded as ModelPathOptions['serializeState'],
  stopWhen: (snapshot) => (snapshot.context as WorkerSessionContext).attempt > 2,
  simple: { serializeState: (snapshot) => String(snapshot.value) },
});

suite('workerSession machine ≡ WorkerSession (maxRetries 2: gives up)', 2, {
  serializeState: bounded as ModelPathOptions['serializeState'],
  limit: 10_000,
  simple: { serializeState: (snapshot) => `${String(snapshot.value)}|${(snapshot.context as WorkerSessionContext).failures}` },
});
