/**
 * Model-based test of the trialRun machine, against both actors that run it:
 *
 * 1. The TypeScript worker (`TrialWorker`) over an in-memory pair, its manager scripted (it sends
 *    Start/Run when told and holds each result report until told), its test runner a deferred.
 *    Behaviour → state: idle (nothing answered), starting (Start answered; the worker's process
 *    never changes directory, the tests it runs next get Start's directory as cwd), running (the runner got the test, no result reported), reporting (the manager
 *    holds a result report of the Run, the Run unanswered), between (every Run answered).
 *    TrialWorker never sends `stop` or `ended` (worker-main exits at EOF without telling its
 *    machine), so its paths leave those events out.
 * 2. The manager's `WorkerProcess` driving a fake worker process (see trial-fakes.ts) whose AMP
 *    side the test answers. Behaviour → state: idle (the worker got nothing), starting (got Start),
 *    running (a Run is unanswered and `runTest` pending), between (every Run answered and its
 *    `runTest` resolved with that many results), stopping (the worker saw EOF on fd 3, still
 *    alive), stopped (`exited` resolved with status 0 after that EOF), crashed (`exited` resolved
 *    otherwise; a pending `runTest` resolved `dead` with a worker-died error).
 *    `reporting` lasts no tick there (the Run's answer and the hand-over of its results happen in
 *    one synchronous block), so the `answered` step is checked together with the `reported` that
 *    follows it (see `visible`).
 *
 * After every step the observed state must equal the machine's, the machine the actor runs must
 * agree, and the context (runs, test, directory, silent Runs) must match what the actor did. No
 * actor may send its machine a control event it cannot take (control.ts's `onDropped`).
 */
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyMachineSnapshot } from 'xstate';
import { AmpConnection } from '../../actors/amp-connection.js';
import type { DroppedControlEvent } from '../../actors/trial/control.js';
import { createMemoryPair } from '../../actors/memory-pair.js';
import { responders } from '../../actors/responders.js';
import type { WorkerOutcome } from '../../actors/trial/node-tests.js';
import { SYNTHETIC_ERROR_CLASSES } from '../../actors/trial/errors.js';
import { StreamRegistry, WorkerProcess, type RunOutcome, type WorkerExit } from '../../actors/trial/worker-process.js';
import { LocalWorkerHost } from '../../actors/trial/local-worker-host.js';
import { TrialWorker } from '../../actors/trial/worker.js';
import { AddSuccess, Run, Start, TestWrite } from '../../codec/protocols/trial-commands.js';
import { trialRunMachine, type TrialRunContext, type TrialRunEvent } from '../../machines/trial-run.js';
import { deferred, type Deferred } from './gated-pair.js';
import { eventLabel, eventually, modelPaths, uncoveredTransitions, type ModelPath, type ModelStep } from './model-paths.js';
import { FakeHub, silent } from './trial-fakes.js';
import { temporaryDirectory } from '../support/temp-directory.js';

const DIRS = {
  A: realpathSync(temporaryDirectory('ampstate-run-a-')),
  B: realpathSync(temporaryDirectory('ampstate-run-b-')),
};
type Dir = keyof typeof DIRS;

const START_A = { type: 'start', directory: 'A' } as const;
const START_B = { type: 'start', directory: 'B' } as const;
const RUN_ONE = { type: 'run', test: 'a.T.test_one' } as const;
const RUN_TWO = { type: 'run', test: 'b::two' } as const;
const ANSWERED = { type: 'answered' } as const;
const REPORTED = [0, 1, 2].map((outcomes) => ({ type: 'reported', outcomes }) as const);
const STOP = { type: 'stop' } as const;
const ENDED_CLEAN = { type: 'ended', clean: true } as const;
const ENDED_CRASH = { type: 'ended', clean: false } as const;

const ALL_EVENTS: readonly TrialRunEvent[] = [START_A, START_B, RUN_ONE, RUN_TWO, ANSWERED, ...REPORTED, STOP, ENDED_CLEAN, ENDED_CRASH];
const options = { label: eventLabel, everyTransition: true, simple: false, stopWhen: (s: AnyMachineSnapshot) => (s.context as TrialRunContext).runs >= 2 } as const;

/** The number of outcomes the test that is answered at step `i` gives (the `reported` that follows says). */
function outcomesAt(steps: readonly ModelStep<TrialRunEvent>[], i: number): number {
  const next = steps[i + 1]?.event;
  return next?.type === 'reported' ? next.outcomes : 1;
}

// ---------------------------------------------------------------------------------------------
// 1. TrialWorker

const WORKER_EVENTS = ALL_EVENTS.filter((e) => e.type !== 'stop' && e.type !== 'ended');
const workerPaths = modelPaths(trialRunMachine, WORKER_EVENTS, options);

function workerSubject() {
  const [a, b] = createMemoryPair();
  const runner: { id: string; cwd: string; outcomes: Deferred<WorkerOutcome[]> }[] = [];
  const reports: { testName: string; answer: Deferred<{ success: boolean }> }[] = [];
  let releaseReports = false;
  const table = responders()
    .on(TestWrite, () => ({ success: true }))
    .on(AddSuccess, ({ testName }) => {
      const answer = deferred<{ success: boolean }>();
      reports.push({ testName, answer });
      if (releaseReports) answer.resolve({ success: true });
      return answer.promise;
    });
  const manager = new AmpConnection(a, { responders: table, logger: silent, role: 'client' });
  const dropped: DroppedControlEvent[] = [];
  const worker = new TrialWorker(b, {
    logger: silent,
    onDroppedEvent: (event) => dropped.push(event),
    runTest: (id, cwd) => {
      const outcomes = deferred<WorkerOutcome[]>();
      runner.push({ id, cwd, outcomes });
      return outcomes.promise;
    },
  });
  let startAnswered = false;
  let cwd: string | undefined;
  /** Each Start's directory and how many Runs preceded it. */
  const starts: { directory: string; beforeRun: number }[] = [];
  const runs: { test: string; answered: boolean; outcomes?: number }[] = [];

  const observe = (): string => {
    const current = runs.at(-1);
    if (current === undefined) return startAnswered ? (worker.directory === cwd ? 'starting' : 'Start answered but its directory not taken') : 'idle';
    if (current.answered) return 'between';
    const call = runner[runs.length - 1];
    if (call === undefined || call.id !== current.test) return 'Run sent, runner not called yet';
    const held = reports.filter((r) => r.testName.startsWith(current.test) && !r.answer.settled);
    return held.length > 0 ? 'reporting' : call.outcomes.settled ? 'runner done, nothing reported' : 'running';
  };

  const act = async (steps: readonly ModelStep<TrialRunEvent>[], i: number): Promise<void> => {
    const event = steps[i]!.event;
    switch (event.type) {
      case 'start': {
        cwd = DIRS[event.directory as Dir];
        starts.push({ directory: cwd, beforeRun: runs.length });
        const answer = await manager.callRemote(Start, { directory: cwd });
        expect(answer).toEqual({ success: true });
        startAnswered = true;
        break;
      }
      case 'run': {
        const run = { test: event.test, answered: false as boolean, outcomes: undefined as number | undefined };
        runs.push(run);
        releaseReports = false;
        void manager.callRemote(Run, { testCase: event.test }).then(({ success }) => {
          expect(success).toBe(true);
          run.answered = true;
        }, () => undefined);
        await eventually(() => runner.length, runs.length);
        break;
      }
      case 'answered': {
        const n = outcomesAt(steps, i);
        const run = runs.at(-1)!;
        run.outcomes = n;
        runner.at(-1)!.outcomes.resolve(Array.from({ length: n }, (_, k) => ({ kind: 'success', testName: `${run.test}#${k}` })));
        break;
      }
      case 'reported':
        releaseReports = true;
        for (const report of reports) if (!report.answer.settled) report.answer.resolve({ success: true });
        await eventually(() => runs.at(-1)!.answered, true);
        break;
      default:
        throw new Error(`TrialWorker cannot be driven to ${event.type}`);
    }
  };

  const checkContext = (context: TrialRunContext): void => {
    expect(runner.length).toBe(context.runs);
    expect(runs.filter((r) => r.answered && r.outcomes === 0).length).toBe(context.silentRuns);
    if (context.directory !== undefined) expect(worker.directory).toBe(DIRS[context.directory as Dir]);
    // The worker's own process stays where it was launched.
    expect(process.cwd()).toBe(ORIGINAL_CWD);
    const current = runs.at(-1);
    expect(current !== undefined && !current.answered ? current.test : undefined).toBe(context.test);
    // Every runner call ran in the directory of the last Start before it (or where the worker was launched).
    for (const [k, call] of runner.entries()) {
      expect(call.cwd).toBe(starts.filter((start) => start.beforeRun <= k).at(-1)?.directory ?? ORIGINAL_CWD);
    }
    expect(dropped).toEqual([]);
    // Every outcome was reported once, in order.
    const reported = runs.filter((r) => r.answered).flatMap((r) => Array.from({ length: r.outcomes ?? 0 }, (_, k) => `${r.test}#${k}`));
    expect(reports.filter((r) => r.answer.settled).map((r) => r.testName).slice(0, reported.length)).toEqual(reported);
  };

  return { worker, observe, act, checkContext, close: () => manager.close() };
}

const ORIGINAL_CWD = process.cwd();

describe('trialRun machine: the paths', () => {
  it('TrialWorker and WorkerProcess together take every transition but those no actor can take', () => {
    const all = [...workerPaths, ...processPaths];
    expect(uncoveredTransitions(trialRunMachine, WORKER_EVENTS, workerPaths, options)).toEqual([]);
    expect(uncoveredTransitions(trialRunMachine, ALL_EVENTS, all, options)).toEqual([
      // WorkerProcess computes `clean` itself: status 0 only counts after it closed fd 3 (stopping).
      'between --ended{"clean":true}-->',
      'idle --ended{"clean":true}-->',
      // WorkerProcess spends no tick in reporting (and TrialWorker never sends `ended`).
      'reporting --ended{"clean":false}-->',
      // (the machine takes `ended` there whatever `clean` says; WorkerProcess says false)
      'reporting --ended{"clean":true}-->',
      'running --ended{"clean":true}-->',
      'starting --ended{"clean":true}-->',
    ]);
    const reached = new Set(all.flatMap((path) => path.steps.map((step) => step.expected)));
    expect([...reached].sort()).toEqual(['between', 'crashed', 'reporting', 'running', 'starting', 'stopped', 'stopping']);
  });
});

describe('trialRun machine ≡ TrialWorker (in memory, scripted manager)', () => {
  for (const path of workerPaths) {
    it(path.name, async () => {
      const s = workerSubject();
      try {
        expect(s.observe()).toBe('idle');
        for (const [i, step] of path.steps.entries()) {
          await s.act(path.steps, i);
          // A Run with no outcome reports nothing: it passes reporting within one tick.
          const visible = step.event.type === 'answered' && outcomesAt(path.steps, i) === 0 ? 'between' : step.expected;
          expect(await eventually(s.observe, visible)).toBe(visible);
          expect(s.worker.run.getSnapshot().value).toBe(visible);
          if (visible === step.expected) {
            const expected = step.snapshot.context as TrialRunContext;
            expect(s.worker.run.getSnapshot().context).toEqual({ ...expected, directory: expected.directory && DIRS[expected.directory as Dir] });
            s.checkContext(step.snapshot.context as TrialRunContext);
          }
        }
      } finally {
        s.close();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 2. WorkerProcess

/**
 * What WorkerProcess can do: it sends Start before its first Run (so never `run` from idle), counts
 * the synthetic no-outcome error among a Run's results (so never `reported` with 0 outcomes), and
 * calls an exit clean only when it had closed fd 3 first.
 */
function feasibleForProcess(path: ModelPath<TrialRunEvent>): boolean {
  let state = 'idle';
  for (const step of path.steps) {
    const e = step.event;
    if (state === 'idle' && e.type === 'run') return false;
    if (e.type === 'reported' && e.outcomes === 0) return false;
    if (e.type === 'ended' && e.clean && state !== 'stopping') return false;
    if (e.type === 'ended' && state === 'reporting') return false;
    if (e.type === 'start' && e.directory !== 'A') return false;
    if (e.type === 'run' && e.test !== RUN_ONE.test) return false;
    state = step.expected;
  }
  return true;
}
const processPaths = modelPaths(trialRunMachine, ALL_EVENTS, options).filter(feasibleForProcess);

async function processSubject(hub: FakeHub) {
  const root = temporaryDirectory('ampstate-run-wp-');
  const dropped: DroppedControlEvent[] = [];
  const wp = new WorkerProcess({
    onDroppedEvent: (event) => dropped.push(event),
    index: 0,
    host: new LocalWorkerHost({ index: 0, argv: hub.workerArgv, env: hub.env, cwd: root, directory: join(root, '0') }),
    directory: join(root, '0'),
    dialect: 'auto',
    streams: new StreamRegistry(),
    logger: silent,
  });
  let exit: WorkerExit | undefined;
  void wp.exited.then((e) => (exit = e));
  await eventually(() => hub.workers.some((w) => w.pid === wp.pid), true, 10_000);
  const fake = hub.workers.find((w) => w.pid === wp.pid);
  if (fake === undefined) throw new Error(`the fake worker never connected: ${wp.describeExit()}`);
  let eofBeforeExit = false;
  const outcomes: (RunOutcome | undefined)[] = [];

  const observe = (): string => {
    if (exit !== undefined) {
      if (outcomes.some((o) => o === undefined)) return 'exited with a Run unresolved';
      return exit.code === 0 && eofBeforeExit ? 'stopped' : 'crashed';
    }
    if (fake.eof) return 'stopping';
    if (fake.runs.length > fake.answered || outcomes.some((o) => o === undefined)) return 'running';
    if (fake.runs.length > 0) return 'between';
    return fake.starts.length > 0 ? 'starting' : 'idle';
  };

  const act = async (steps: readonly ModelStep<TrialRunEvent>[], i: number): Promise<void> => {
    const event = steps[i]!.event;
    switch (event.type) {
      case 'start':
        wp.start();
        await eventually(() => fake.starts.length, 1);
        expect(fake.starts).toEqual([wp.directory]);
        break;
      case 'run': {
        const index = outcomes.length;
        outcomes.push(undefined);
        void wp.runTest(event.test).then((o) => (outcomes[index] = o));
        await eventually(() => fake.runs.length, index + 1);
        break;
      }
      case 'answered':
        await fake.answerRun(outcomesAt(steps, i));
        break;
      case 'reported':
        await eventually(() => outcomes.at(-1) !== undefined, true);
        break;
      case 'stop':
        void wp.stop();
        await eventually(() => fake.eof, true);
        eofBeforeExit = exit === undefined;
        break;
      case 'ended':
        if (event.clean) fake.exit();
        else fake.kill();
        await eventually(() => exit !== undefined, true, 5000);
        await eventually(() => outcomes.every((o) => o !== undefined), true, 5000);
        break;
    }
  };

  const checkContext = (context: TrialRunContext): void => {
    expect(dropped).toEqual([]);
    expect(fake.runs.length).toBe(context.runs);
    if (context.directory !== undefined) expect(fake.starts).toEqual([context.directory === 'A' ? wp.directory : '?']);
    for (const [k, outcome] of outcomes.entries()) {
      if (outcome === undefined) continue;
      if (outcome.dead) {
        expect(outcome.results.at(-1)).toMatchObject({ outcome: 'error', errorClass: SYNTHETIC_ERROR_CLASSES.workerDied, origin: 'worker-died' });
      } else {
        expect(outcome.results.map((r) => r.reportedName)).toEqual(Array.from({ length: outcome.results.length }, (_, n) => `${fake.runs[k]}#${n}`));
      }
    }
  };

  return { wp, observe, act, checkContext, close: () => fake.kill() };
}

describe('trialRun machine ≡ WorkerProcess (manager side, fake worker process)', () => {
  let hub: FakeHub;
  beforeAll(async () => {
    hub = await FakeHub.open();
  });
  afterAll(() => hub.close());

  for (const path of processPaths) {
    it(path.name, async () => {
      const s = await processSubject(hub);
      try {
        expect(s.observe()).toBe('idle');
        expect(s.wp.run.getSnapshot().value).toBe('idle');
        for (const [i, step] of path.steps.entries()) {
          await s.act(path.steps, i);
          // The Run's answer and the hand-over of its results are one synchronous block here.
          const visible = step.expected === 'reporting' ? 'between' : step.expected;
          expect(await eventually(s.observe, visible)).toBe(visible);
          expect(s.wp.run.getSnapshot().value).toBe(visible);
          if (visible === step.expected) {
            const { directory, endReason, ...rest } = step.snapshot.context as TrialRunContext;
            const actual = s.wp.run.getSnapshot().context;
            expect(actual).toMatchObject({ ...rest, directory: directory === undefined ? undefined : s.wp.directory });
            // A crash carries the worker's exit as its reason (the paths' events carry none).
            if (step.expected === 'crashed') expect(actual.endReason).toMatch(/^worker 0 \(pid \d+\) was killed by SIGKILL$/);
            else expect(actual.endReason).toBe(endReason);
            s.checkContext(step.snapshot.context as TrialRunContext);
          }
        }
      } finally {
        s.close();
      }
    });
  }
});
