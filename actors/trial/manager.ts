import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Subject, filter, mergeMap, type Observable } from 'rxjs';
import { createActor, waitFor, type Actor } from 'xstate';
import { trialWorkerPoolMachine, type TrialWorkerPoolEvent } from '../../machines/trial-worker-pool.js';
import { defaultLogger, type Logger } from '../logger.js';
import { compiledAsset } from './assets.js';
import { control } from './control.js';
import { ManagerAlreadyRanError, SYNTHETIC_ERROR_CLASSES } from './errors.js';
import { listNodeTests } from './node-tests.js';
import { canListFirst, spawnListingWorker, type ListingWorker } from './listing-worker.js';
import { listPythonTests, probePython, workerEnvironment } from './python-env.js';
import { TrialTreeReporter } from './reporter.js';
import type { TrialEvent, TrialResult, TrialSummary } from './results.js';
import { claimTrialTemp, type TrialTempDirectory } from './temp-dir.js';
import { TrialDurations } from './duration-cache.js';
import { StreamRegistry, WorkerProcess, type TrialWorkerHost } from './worker-process.js';
import { defaultFarmHost, farmRequest, farmStartDirectory, localHost, type Placement } from './worker-placement.js';
import { inspectorFromEnvironment } from '../pino-inspector.js';
import { placementsOf, type TrialManagerOptions } from './manager-options.js';

export type { TrialManagerOptions };

interface TestList {
  readonly ids: readonly string[];
  readonly count: number;
}

interface WorkerPlan {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Trial's distributed manager (`trial -j N`, docs/trial-protocol.md §1, §4): spawns the workers,
 * hands test ids out one Run at a time per worker from one shared queue, collects and prints the
 * results like trial, and stops every worker by closing its fd 3.
 *
 * Names are expanded into test ids before dispatch (so one module spreads over all workers): Python
 * names by `list_tests.py` with trial's own loader, exactly the ids `trial -j` sends; node names by
 * loading each file once with a name pattern nothing matches (see node-tests.ts).
 */
export class TrialManager {
  readonly pool: Actor<typeof trialWorkerPoolMachine>;
  private readonly options: TrialManagerOptions;
  private readonly logger: Logger;
  private readonly subject = new Subject<TrialEvent>();
  private readonly streams = new StreamRegistry();
  private readonly workers: WorkerProcess[] = [];
  /** Per worker: settles once its exit has been sent to the pool (rejects if it never spawned). */
  private readonly exitReports = new Map<WorkerProcess, Promise<void>>();
  private reporter: TrialTreeReporter | undefined;
  /** Worker 0 when it is also the lister (listing-worker.ts). */
  private lister: ListingWorker | undefined;
  private started = false;
  /** Worker index → where it runs; the pool's size is their count. */
  private readonly placements: readonly Placement[];

  constructor(options: TrialManagerOptions) {
    this.placements = placementsOf(options);
    this.options = options;
    this.logger = (options.logger ?? defaultLogger).child({ trial: 'manager' });
    const pool = trialWorkerPoolMachine.provide({
      actions: {
        // Entering stopping (drained, aborted, or no tests): every live worker gets EOF on fd 3.
        closeWorkers: () => {
          for (const worker of this.workers) void worker.stop(this.options.stopTimeoutMs);
        },
      },
    });
    this.pool = createActor(pool, { input: { size: this.placements.length }, inspect: options.inspect ?? inspectorFromEnvironment() }).start();
  }

  /** Every event of the run; subscribe before `run()`. Completes after `done`. */
  get events$(): Observable<TrialEvent> {
    return this.subject.asObservable();
  }

  /** Each test outcome as it is reported (one Run may give several). */
  get results$(): Observable<TrialResult> {
    return this.events$.pipe(
      filter((event): event is Extract<TrialEvent, { type: 'test' }> => event.type === 'test'),
      mergeMap((event) => event.results),
    );
  }

  async run(): Promise<TrialSummary> {
    if (this.started) throw new ManagerAlreadyRanError();
    this.started = true;
    const options = this.options;
    const cwd = resolve(options.cwd ?? process.cwd());
    const write = this.writer();
    const temp = claimTrialTemp(options.tempDirectory ?? '_trial_temp', cwd);
    try {
      return await this.runIn(cwd, temp, write);
    } catch (error) {
      // Aborting is allowed from any state that is not already stopping or final.
      if (this.pool.getSnapshot().can({ type: 'stop' })) this.control({ type: 'stop' });
      // A worker still listing reads fd 3 only once it has listed: it would hold the error back.
      if (this.lister?.listingNow === true) this.lister.host.kill();
      await Promise.all(this.workers.map((w) => w.stop(options.stopTimeoutMs)));
      this.subject.error(error);
      throw error;
    } finally {
      temp.release();
    }
  }

  private async runIn(cwd: string, temp: TrialTempDirectory, write: (text: string) => void): Promise<TrialSummary> {
    const options = this.options;
    const eager = (options.spawn ?? 'eager') === 'eager';
    const env = options.env ?? process.env;
    const python = options.python ?? env.AMPSTATE_PYTHON ?? 'python3';

    let listing: Promise<TestList & Partial<WorkerPlan>>;
    let plan: Promise<WorkerPlan>;
    // Eagerly, the first local Python worker lists the tests and then works: one process fewer.
    const lister =
      !options.node && eager && options.workerArgv === undefined && this.placements[0]?.kind === 'local' && canListFirst(options.workerArguments ?? [])
        ? spawnListingWorker({ index: 0, python, names: options.names, workerArguments: options.workerArguments ?? [], env, cwd, directory: `${temp.path}/0` })
        : undefined;
    this.lister = lister;
    // The interpreter's path for local workers, without importing the tests (an interpreter start).
    const probedPlan = () => probePython(python, cwd, env).then((p) => this.pythonPlan(python, p.sysPath, p.workertrial, env));
    if (options.node) {
      listing = listNodeTests(options.names, { cwd, nodeOptions: options.nodeOptions, concurrency: this.placements.length }).then((ids) => ({ ids, count: ids.length }));
      plan = Promise.resolve(this.nodePlan(env));
    } else if (lister !== undefined) {
      plan = probedPlan();
      // A Python that cannot run trial at all is that error (the probe's), not the listing's.
      listing = lister.listing.then(
        (l) => ({ ids: l.ids, count: l.count }),
        async (error: unknown) => {
          await plan;
          throw error;
        },
      );
    } else {
      const list = listPythonTests(python, options.names, cwd, env);
      listing = list.then((l) => ({ ids: l.ids, count: l.count, ...this.pythonPlan(python, l.sysPath, l.workertrial, env) }));
      plan = eager ? probedPlan() : listing.then((l) => l as WorkerPlan);
    }
    listing.catch(() => undefined);
    // Lazy: `plan` is the listing too; its failure is reported through `listing` (awaited below).
    plan.catch(() => undefined);

    if (eager) {
      // The listing worker's output is read from this tick on (it is already running).
      const first = lister === undefined ? 0 : 1;
      if (lister !== undefined) {
        this.spawnWorker(0, undefined, python, cwd, temp.path);
        // A Python that cannot start fails the listing (TwistedNotFoundError): that is the error.
        await lister.host.spawned.catch(() => listing);
      }
      // Farm workers need no local plan (they find their own workertrial); local ones wait for it.
      const local = this.placements.some((placement, index) => index >= first && placement.kind === 'local') ? await plan : undefined;
      for (let i = first; i < this.placements.length; i++) this.spawnWorker(i, local, python, cwd, temp.path);
      await this.allSpawned();
    }
    const tests = await listing;
    // Every worker may already have died while the tests were listed: the pool is then crashed.
    if (!this.pool.getSnapshot().matches('crashed')) this.control({ type: 'testsListed', count: tests.ids.length });
    // The pool decides how many workers the run has: min(tests, -j).
    const size = this.pool.getSnapshot().context.size;
    if (eager) {
      // Surplus workers never get Start: close their fd 3, then remove their directories so the
      // layout is Twisted's (one directory per worker that ran tests).
      const surplus = this.workers.splice(size);
      await Promise.all(surplus.map((w) => w.stop(options.stopTimeoutMs)));
      for (const worker of surplus) rmSync(worker.directory, { recursive: true, force: true });
    } else {
      const local = this.placements.slice(0, size).some((placement) => placement.kind === 'local') ? await plan : undefined;
      for (let i = 0; i < size; i++) this.spawnWorker(i, local, python, cwd, temp.path);
      await this.allSpawned();
    }

    const reporter = new TrialTreeReporter({ write, colors: this.colors() });
    this.reporter = reporter;
    reporter.running(tests.count);
    this.subject.next({ type: 'started', tests: tests.ids.length, workers: size, directory: temp.path });

    const startTime = performance.now();
    this.durations = TrialDurations.open(options.durations, cwd, options.tempDirectory, this.logger);
    const queue = [...(this.durations?.schedule(tests.ids).order ?? tests.ids)];
    // Only a running pool hands out tests: with no tests it is already stopping, and it is crashed
    // when every worker died before the listing.
    if (this.pool.getSnapshot().matches('running')) {
      await Promise.all(this.workers.map((worker) => this.drive(worker, queue)));
      // A drive ends when the queue is empty or its worker is gone (and that exit reported): a pool
      // still running has a live worker left, so the queue is drained.
      if (this.pool.getSnapshot().matches('running')) this.control({ type: 'drained' });
    }
    const pool = await waitFor(this.pool, (snapshot) => snapshot.status === 'done');
    if (pool.matches('crashed')) {
      this.logger.debug({ pool: pool.context, unrun: queue.length }, 'every worker ended before the tests were drained');
    }
    // Every worker died with tests left: each still gets an outcome.
    for (let test = queue.shift(); test !== undefined; test = queue.shift()) {
      this.finish(test, -1, [
        {
          outcome: 'error',
          test,
          reportedName: test,
          errorClass: SYNTHETIC_ERROR_CLASSES.noWorker,
          message: `no live worker left to run ${test}: every worker process ended (see the worker-died errors above and ${temp.path}/*/err.log)`,
          frames: [],
          origin: 'no-worker',
        },
      ], 0);
    }
    const seconds = (performance.now() - startTime) / 1000;
    const summary = reporter.done(seconds);
    await this.durations?.save();
    this.subject.next({ type: 'done', summary });
    this.subject.complete();
    return summary;
  }

  private pythonPlan(python: string, sysPath: readonly string[], workertrial: string, env: NodeJS.ProcessEnv): WorkerPlan {
    const argv = this.options.workerArgv ?? [python, workertrial, ...(this.options.workerArguments ?? [])];
    return { argv, env: workerEnvironment(sysPath, env) };
  }

  private nodePlan(env: NodeJS.ProcessEnv): WorkerPlan {
    const o = this.options;
    const argv = o.workerArgv ?? [
      process.execPath,
      compiledAsset('worker-main.js'),
      ...(o.dialect === '22.4' ? ['--dialect', '22.4'] : []),
      ...(o.nodeOptions ?? []).flatMap((option) => ['--node-option', option]),
      ...(o.workerArguments ?? []),
    ];
    return { argv, env };
  }

  private control(event: TrialWorkerPoolEvent): void {
    control(this.pool, event, { logger: this.logger, onDropped: this.options.onDroppedEvent });
  }

  /** Resolves once every worker process is up; rejects with the first WorkerSpawnError. */
  private async allSpawned(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.spawned));
  }

  /** The host of worker `index`: a local child (with `local`, the plan) or a process on a farm worker. */
  private hostFor(index: number, local: WorkerPlan | undefined, python: string, cwd: string, tempPath: string): TrialWorkerHost {
    const placement = this.placements[index]!;
    if (index === 0 && this.lister !== undefined) return this.lister.host;
    if (placement.kind === 'local') return localHost(index, local!, cwd, `${tempPath}/${index}`);
    const farm = this.options.farm!;
    const createHost = farm.createHost ?? defaultFarmHost;
    return createHost(farm.client, placement.worker, farmRequest(farm, this.options, python, cwd, farmStartDirectory(cwd, tempPath, index)), this.logger);
  }

  private spawnWorker(index: number, local: WorkerPlan | undefined, python: string, cwd: string, tempPath: string): void {
    const worker = new WorkerProcess({
      index,
      host: this.hostFor(index, local, python, cwd, tempPath),
      directory: `${tempPath}/${index}`,
      dialect: this.options.dialect ?? 'auto',
      streams: this.streams,
      logger: this.logger,
      inspect: this.options.inspect,
      onLog: (text, test) => this.subject.next({ type: 'log', worker: index, test, text }),
      onDroppedEvent: this.options.onDroppedEvent,
    });
    this.workers.push(worker);
    // The pool counts only processes that started; a spawn failure fails the run instead (allSpawned).
    const exitReported = worker.spawned.then(async () => {
      this.control({ type: 'workerSpawned', worker: index });
      this.subject.next({ type: 'worker', worker: index, state: 'spawned' });
      const exit = await worker.exited;
      // The worker's trialRun decides: stopped means it exited 0 after we closed its fd 3.
      const clean = worker.run.getSnapshot().matches('stopped');
      this.control({ type: 'workerExited', worker: index, clean });
      this.subject.next({
        type: 'worker',
        worker: index,
        state: clean ? 'exited' : 'crashed',
        exitCode: exit.code,
        signal: exit.signal,
        ...(worker.dialect === undefined ? {} : { dialect: worker.dialect }),
      });
    });
    exitReported.catch(() => undefined);
    this.exitReports.set(worker, exitReported);
  }

  /**
   * One worker's loop: next test from the shared queue, one Run at a time, while its trialRun takes
   * Runs. A worker that ended is closed (a broken connection may leave the process alive) and the
   * loop returns only once the pool knows of its exit, so the pool decides crashed vs stopped on
   * every exit, never on a race between two dying workers.
   */
  private async drive(worker: WorkerProcess, queue: string[]): Promise<void> {
    worker.start();
    while (queue.length > 0 && worker.acceptsRuns) {
      const test = queue.shift()!;
      const started = performance.now();
      const outcome = await worker.runTest(test);
      this.finish(test, worker.index, outcome.results, performance.now() - started);
    }
    if (worker.acceptsRuns) return;
    await worker.stop(this.options.stopTimeoutMs);
    await this.exitReports.get(worker);
  }

  /** This run's duration cache (undefined when `durations: false`); made when the queue is. */
  private durations: TrialDurations | undefined;
  /** Workers whose first Run has finished: that one's time includes the worker's start-up. */
  private readonly timedWorkers = new Set<number>();

  private finish(test: string, worker: number, results: readonly TrialResult[], durationMs: number): void {
    this.reporter!.testFinished(test, results);
    // Worker -1: the test never ran (no live worker), so there is no duration to learn.
    if (worker >= 0) {
      this.durations?.record(test, durationMs, !this.timedWorkers.has(worker));
      this.timedWorkers.add(worker);
    }
    this.subject.next({ type: 'test', test, worker, results, durationMs });
  }

  private writer(): (text: string) => void {
    const output = this.options.output === undefined ? process.stdout : this.options.output;
    if (output === null) return () => undefined;
    if (typeof output === 'function') return output;
    return (text) => void output.write(text);
  }

  private colors(): boolean {
    if (this.options.colors !== undefined) return this.options.colors;
    const output = this.options.output === undefined ? process.stdout : this.options.output;
    if (output === null || typeof output === 'function') return false;
    const tty = output as { isTTY?: boolean; hasColors?: () => boolean };
    return tty.isTTY === true && (tty.hasColors?.() ?? false);
  }
}

/** Runs a whole trial session: `new TrialManager(options).run()`. */
export function runTrial(options: TrialManagerOptions): Promise<TrialSummary> {
  return new TrialManager(options).run();
}
