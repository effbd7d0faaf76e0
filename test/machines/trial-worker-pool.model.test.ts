/**
 * Model-based test of the trialWorkerPool machine against the real TrialManager, whose processes
 * are all fakes scripted by the test (trial-fakes.ts): the Python probe and test listing (the
 * listing answers when the test says, or fails), and every worker process (the test answers its
 * AMP commands, makes it exit 0 or kills it).
 *
 * The manager decides the order of its events itself, so the paths are the runs it can take
 * (eager and lazy spawning; 0, fewer and more tests than workers; listing failures; crashes),
 * replayed through the machine; events the manager sends in the same tick (eager spawns, lazy
 * spawns after the listing, the drain and the stop of every worker) are one step for the actor.
 *
 * Behaviour → state (the pool of `-j 2`):
 * - spawning: the manager waits for the listing and has not spawned every worker (events$);
 * - ready: every worker is spawned (events$ `worker spawned`), the listing is not answered;
 * - running: the tests are known and no worker that got Start was closed yet (Starts/Runs reach
 *   the fakes; a surplus worker gets EOF on fd 3 without ever getting Start);
 * - stopping: every live worker saw EOF on fd 3 and `run()` has not settled;
 * - stopped: `run()` settled and not every worker that got Start crashed;
 * - crashed: every worker that ran tests was killed before the queue drained: the remaining tests
 *   got `no-worker` errors.
 * The context (spawned, exited, crashed, tests) must match the manager's events$ and the machine
 * the manager runs must agree. No control event may be dropped, by the pool or any worker's trialRun.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DroppedControlEvent } from '../../actors/trial/control.js';
import { WorkerSpawnError } from '../../actors/trial/errors.js';
import { TrialManager } from '../../actors/trial/manager.js';
import type { TrialEvent, TrialSummary } from '../../actors/trial/results.js';
import { trialWorkerPoolMachine, type TrialWorkerPoolContext, type TrialWorkerPoolEvent } from '../../machines/trial-worker-pool.js';
import { freshDirectory } from '../trial/helpers.js';
import { eventLabel, eventually, replayPath, uncoveredTransitions } from './model-paths.js';
import { FakeHub, type FakeWorker } from './trial-fakes.js';

const JOBS = 2;
const SPAWNED = { type: 'workerSpawned', worker: 0 } as const;
const listed = (count: number) => ({ type: 'testsListed', count }) as const;
const DRAINED = { type: 'drained' } as const;
const STOP = { type: 'stop' } as const;
const EXIT_CLEAN = { type: 'workerExited', worker: 0, clean: true } as const;
const EXIT_CRASH = { type: 'workerExited', worker: 0, clean: false } as const;
const EVENTS: readonly TrialWorkerPoolEvent[] = [SPAWNED, listed(0), listed(1), listed(3), DRAINED, STOP, EXIT_CLEAN, EXIT_CRASH];

type Act = 'none' | 'list' | 'failListing' | 'exitSurplus' | 'drain' | 'exitAll' | 'kill' | 'exitOne';
interface Scenario {
  readonly name: string;
  readonly spawn: 'eager' | 'lazy';
  readonly tests: number;
  /** Each step: the events the manager sends for one act of the test, and that act. */
  readonly steps: readonly (readonly [Act, readonly TrialWorkerPoolEvent[]])[];
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'eager, more tests than workers',
    spawn: 'eager',
    tests: 3,
    steps: [['none', [SPAWNED, SPAWNED]], ['list', [listed(3)]], ['drain', [DRAINED]], ['exitOne', [EXIT_CLEAN]], ['exitOne', [EXIT_CLEAN]]],
  },
  {
    name: 'eager, a worker killed while stopping',
    spawn: 'eager',
    tests: 3,
    steps: [['none', [SPAWNED, SPAWNED]], ['list', [listed(3)]], ['drain', [DRAINED]], ['kill', [EXIT_CRASH]], ['exitOne', [EXIT_CLEAN]]],
  },
  {
    name: 'eager, fewer tests than workers: the surplus worker is stopped before Start',
    spawn: 'eager',
    tests: 1,
    steps: [['none', [SPAWNED, SPAWNED]], ['list', [listed(1)]], ['exitSurplus', [EXIT_CLEAN]], ['drain', [DRAINED]], ['exitAll', [EXIT_CLEAN]]],
  },
  {
    name: 'eager, no tests',
    spawn: 'eager',
    tests: 0,
    steps: [['none', [SPAWNED, SPAWNED]], ['list', [listed(0)]], ['exitOne', [EXIT_CLEAN]], ['exitOne', [EXIT_CLEAN]]],
  },
  {
    name: 'lazy, more tests than workers',
    spawn: 'lazy',
    tests: 3,
    steps: [['none', []], ['list', [listed(3), SPAWNED, SPAWNED]], ['drain', [DRAINED]], ['exitAll', [EXIT_CLEAN, EXIT_CLEAN]]],
  },
  {
    name: 'lazy, one test',
    spawn: 'lazy',
    tests: 1,
    steps: [['list', [listed(1), SPAWNED]], ['drain', [DRAINED]], ['exitAll', [EXIT_CLEAN]]],
  },
  {
    name: 'lazy, no tests',
    spawn: 'lazy',
    tests: 0,
    steps: [['list', [listed(0)]]],
  },
  {
    name: 'eager, every worker killed while tests are queued',
    spawn: 'eager',
    tests: 3,
    steps: [['none', [SPAWNED, SPAWNED]], ['list', [listed(3)]], ['kill', [EXIT_CRASH]], ['kill', [EXIT_CRASH]]],
  },
  {
    name: 'eager, a worker killed before the listing, the other one runs every test',
    spawn: 'eager',
    tests: 3,
    steps: [['none', [SPAWNED, SPAWNED]], ['kill', [EXIT_CRASH]], ['list', [listed(3)]], ['drain', [DRAINED]], ['exitAll', [EXIT_CLEAN]]],
  },
  {
    name: 'eager, both workers killed before the listing',
    spawn: 'eager',
    tests: 3,
    steps: [['none', [SPAWNED, SPAWNED]], ['kill', [EXIT_CRASH]], ['kill', [EXIT_CRASH]]],
  },
  {
    name: 'eager, the listing fails',
    spawn: 'eager',
    tests: 3,
    steps: [['none', [SPAWNED, SPAWNED]], ['failListing', [STOP]], ['exitOne', [EXIT_CLEAN]], ['exitOne', [EXIT_CLEAN]]],
  },
  {
    name: 'lazy, the listing fails',
    spawn: 'lazy',
    tests: 3,
    steps: [['failListing', [STOP]]],
  },
];

const INPUT = { size: JOBS };
const paths = SCENARIOS.map((s) => ({ scenario: s, path: replayPath(trialWorkerPoolMachine, s.steps.flatMap(([, events]) => events), { input: INPUT, label: eventLabel }) }));

describe('trialWorkerPool machine: the paths', () => {
  it('take every transition the manager can take', () => {
    const reached = new Set(paths.flatMap(({ path }) => path.steps.map((step) => step.expected)));
    expect([...reached].sort()).toEqual(['crashed', 'ready', 'running', 'spawning', 'stopped', 'stopping']);
    expect(uncoveredTransitions(trialWorkerPoolMachine, EVENTS, paths.map(({ path }) => path), { input: INPUT, label: eventLabel })).toEqual([
      // The manager spawns its workers after the listing (lazy) or all in one loop (eager), and
      // kills none of them itself: nothing can end or list while only some are spawned.
      'spawning --workerExited{"worker":0,"clean":false}-->',
      'spawning --workerExited{"worker":0,"clean":true}-->',
      // A worker exits 0 without being asked only if it is broken; the manager then calls it a crash.
      'ready --workerExited{"worker":0,"clean":true}-->',
      // The manager sends `stop` only when run() fails before the workers get tests (the listing).
      'running --stop-->',
      // Every spawn happens before the pool can stop (lazy spawns after the listing, before `drained`).
      'stopping --workerSpawned{"worker":0}-->',
    ].sort());
  });
});

describe('trialWorkerPool machine ≡ TrialManager (fake listing and worker processes)', () => {
  let hub: FakeHub;
  beforeAll(async () => {
    hub = await FakeHub.open();
  });
  afterAll(() => hub.close());

  for (const { scenario, path } of paths) {
    it(`${scenario.name}: ${path.name}`, async () => {
      // A listing left unanswered by an earlier test must not be taken for this one's.
      while (hub.listings.length > 0) hub.failListing();
      const before = hub.workers.length;
      const dropped: DroppedControlEvent[] = [];
      const manager = new TrialManager({
        names: ['fake'],
        jobs: JOBS,
        python: hub.script,
        workerArgv: hub.workerArgv,
        env: hub.env,
        cwd: freshDirectory(),
        output: null,
        spawn: scenario.spawn,
        stopTimeoutMs: 5000,
        onDroppedEvent: (event) => dropped.push(event),
      });
      const events: TrialEvent[] = [];
      manager.events$.subscribe({ next: (e) => events.push(e), error: () => undefined });
      let settled: { summary?: TrialSummary; error?: unknown } | undefined;
      void manager.run().then(
        (summary) => (settled = { summary }),
        (error: unknown) => (settled = { error }),
      );
      const fakes = (): FakeWorker[] => hub.workers.slice(before);
      const workerEvents = (state: string) => events.filter((e) => e.type === 'worker' && e.state === state).length;
      let listingAnswered = false;
      // The fakes the test has not made exit or killed.
      const gone = new Set<number>();
      const liveFakes = () => fakes().filter((f) => !gone.has(f.pid));

      const observe = (): string => {
        const started = fakes().filter((f) => f.starts.length > 0);
        // Every worker the manager spawned died without being stopped.
        if (workerEvents('crashed') > 0 && workerEvents('crashed') === workerEvents('spawned')) return 'crashed';
        if (settled !== undefined) return 'stopped';
        const live = liveFakes();
        if (live.length > 0 && live.every((f) => f.eof) && (started.length === 0 || started.every((f) => f.eof))) {
          return listingAnswered || settled !== undefined || hub.listings.length === 0 ? 'stopping' : 'ready';
        }
        // Tests known: the manager reported the start of the run, or closed a surplus worker that
        // never got Start while keeping another one.
        const surplusClosed = live.some((f) => f.eof && f.starts.length === 0) && live.some((f) => !f.eof);
        if (events.some((e) => e.type === 'started') || surplusClosed) return 'running';
        if (workerEvents('spawned') >= JOBS) return 'ready';
        return 'spawning';
      };
      const act = async (what: Act): Promise<void> => {
        switch (what) {
          case 'none':
            if (scenario.spawn === 'eager') await eventually(() => fakes().length, JOBS, 10_000);
            break;
          case 'list':
            await eventually(() => hub.listings.length, 1, 10_000);
            hub.list(Array.from({ length: scenario.tests }, (_, i) => `fake.T.test_${i}`));
            listingAnswered = true;
            break;
          case 'failListing':
            await eventually(() => hub.listings.length, 1, 10_000);
            hub.failListing();
            break;
          case 'exitSurplus': {
            await eventually(() => liveFakes().some((f) => f.eof && f.starts.length === 0), true);
            const surplus = liveFakes().find((f) => f.eof && f.starts.length === 0)!;
            gone.add(surplus.pid);
            surplus.exit();
            break;
          }
          case 'drain':
            // Eager pools spawn every worker, surplus included: at least the ones that get tests.
            await eventually(() => fakes().length >= Math.min(scenario.tests, JOBS), true, 10_000);
            // Answer every Run until the manager closes fd 3 of every worker that got tests.
            await eventually(
              async () => {
                for (const f of liveFakes()) if (f.runs.length > f.answered) await f.answerRun(1);
                return liveFakes().every((f) => f.eof);
              },
              true,
              10_000,
            );
            break;
          case 'exitOne': {
            await eventually(() => liveFakes().some((f) => f.eof), true);
            const one = liveFakes().find((f) => f.eof)!;
            gone.add(one.pid);
            one.exit();
            break;
          }
          case 'exitAll':
            for (const f of liveFakes()) {
              gone.add(f.pid);
              f.exit();
            }
            break;
          case 'kill': {
            await eventually(() => liveFakes().length > 0, true);
            const victim = liveFakes()[0]!;
            gone.add(victim.pid);
            victim.kill();
            break;
          }
        }
      };

      try {
        let index = 0;
        expect(manager.pool.getSnapshot().value).toBe('spawning');
        for (const [what, sent] of scenario.steps) {
          await act(what);
          index += sent.length;
          const step = index === 0 ? undefined : path.steps[index - 1]!;
          const expected = step?.expected ?? 'spawning';
          const context = (step?.snapshot.context ?? { size: JOBS, spawned: 0, exited: 0, crashed: 0, tests: undefined }) as TrialWorkerPoolContext;
          // Counted from the manager's own events$: one `worker spawned` per spawn, one exit each.
          await eventually(() => workerEvents('spawned') === context.spawned && workerEvents('exited') + workerEvents('crashed') === context.exited, true, 8000);
          expect(await eventually(observe, expected, 8000)).toBe(expected);
          expect(workerEvents('spawned')).toBe(context.spawned);
          expect(workerEvents('exited') + workerEvents('crashed')).toBe(context.exited);
          expect(workerEvents('crashed')).toBe(context.crashed);
          expect(manager.pool.getSnapshot().value).toBe(expected);
          expect(manager.pool.getSnapshot().context).toEqual(context);
        }
        // A pool that died before the listing: the manager still lists, then reports every test.
        if (hub.listings.length > 0) hub.list(Array.from({ length: scenario.tests }, (_, i) => `fake.T.test_${i}`));
        // Once settled, every test has an outcome (never silence) and the pool's end is the path's.
        await eventually(() => settled !== undefined, true, 10_000);
        if (settled!.summary !== undefined) expect(settled!.summary.testsRun).toBe(scenario.tests);
        expect(manager.pool.getSnapshot().status).toBe('done');
        expect(manager.pool.getSnapshot().value).toBe(path.steps.at(-1)!.expected);
        expect(dropped).toEqual([]);
      } finally {
        for (const f of fakes()) f.kill();
      }
    });
  }
});

describe('TrialManager: a worker that cannot be spawned', () => {
  let hub: FakeHub;
  beforeAll(async () => {
    hub = await FakeHub.open();
  });
  afterAll(() => hub.close());

  it('fails the run with WorkerSpawnError naming the executable', async () => {
    const missing = `${hub.directory}/no-such-python`;
    const manager = new TrialManager({
      names: ['fake'],
      jobs: JOBS,
      python: hub.script,
      workerArgv: [missing, 'workertrial.py'],
      env: hub.env,
      cwd: freshDirectory(),
      output: null,
      stopTimeoutMs: 5000,
    });
    const failure = await manager.run().then(
      () => undefined,
      (error: unknown) => error,
    );
    hub.failListing();
    expect(failure).toBeInstanceOf(WorkerSpawnError);
    expect(failure).toMatchObject({ code: 'TRIAL_ERR_SPAWN', executable: missing, worker: 0 });
    expect((failure as Error).message).toContain(missing);
    expect((failure as Error).message).toContain('ENOENT');
    // No process came up, so the pool counted none; it was stopped and ended.
    expect(manager.pool.getSnapshot().context.spawned).toBe(0);
    expect(manager.pool.getSnapshot().value).toBe('stopped');
  });
});
