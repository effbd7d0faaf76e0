import { closeSync, createWriteStream, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createActor, type Actor } from 'xstate';
import { Run, Start, type TrialDialect } from '../../codec/protocols/trial-commands.js';
import { trialRunMachine, type TrialRunEvent } from '../../machines/trial-run.js';
import { AmpConnection, type Inspector } from '../amp-connection.js';
import type { Logger } from '../logger.js';
import { control, type ControlSink, type DroppedEventHandler } from './control.js';
import { SYNTHETIC_ERROR_CLASSES, WorkerDiedError } from './errors.js';
import { ResultCollector, type DialectChoice, type StreamRegistry } from './result-collector.js';
import type { TrialResult } from './results.js';
import type { TrialWorkerHost, WorkerExit } from './worker-host.js';
import { inspectorFromEnvironment } from '../pino-inspector.js';

export { StreamRegistry, toFrames, type DialectChoice } from './result-collector.js';
export type { TrialWorkerHost, WorkerExit } from './worker-host.js';

export interface WorkerProcessOptions {
  readonly index: number;
  /** Where the process runs: a LocalWorkerHost, or a farm worker's (FarmWorkerHost). */
  readonly host: TrialWorkerHost;
  /** `<tempdir>/<index>` of the manager: created now; out.log, err.log and test.log live there. */
  readonly directory: string;
  readonly dialect: DialectChoice;
  readonly streams: StreamRegistry;
  readonly logger: Logger;
  readonly inspect?: Inspector;
  readonly onLog?: (text: string, test: string | undefined) => void;
  /** Control events the worker's trialRun could not take (see control.ts). */
  readonly onDroppedEvent?: DroppedEventHandler;
}

export interface RunOutcome {
  readonly results: TrialResult[];
  /** The worker cannot take more tests (process ended or connection lost). */
  readonly dead: boolean;
  /** The worker's Run answer (`success`); false in ≥22.10 when reporting failed. */
  readonly success: boolean | undefined;
}

/**
 * The manager's side of one worker process (docs/trial-protocol.md §1.1, §3.4, §4.1), wherever its
 * host runs it: AMP over the host's pipes, stdout/stderr into out.log/err.log of the manager's
 * `<tempdir>/<index>`, every worker command answered, results attributed to the Run in progress
 * (the `testName` argument is ignored, as Twisted does).
 */
export class WorkerProcess {
  readonly index: number;
  readonly host: TrialWorkerHost;
  readonly connection: AmpConnection;
  readonly run: Actor<typeof trialRunMachine>;
  /** The manager's log directory of this worker (for a local worker also its Start directory). */
  readonly directory: string;
  /** Resolves when the process is up; rejects with the host's error (a WorkerSpawnError, a farm error) when it cannot be started. */
  readonly spawned: Promise<void>;
  /** Resolves when the process has ended and its AMP output has been read to the end. */
  readonly exited: Promise<WorkerExit>;
  readonly collector: ResultCollector;
  private exit: WorkerExit | undefined;
  private spawnError: Error | undefined;
  private stopping: Promise<WorkerExit> | undefined;
  /** test.log, written synchronously per TestWrite as Twisted does (no thread-pool round trip per line). */
  private testLog: number | undefined;
  private stderrTail: Buffer = Buffer.alloc(0);
  private readonly sink: ControlSink;

  constructor(options: WorkerProcessOptions) {
    this.index = options.index;
    this.host = options.host;
    this.directory = options.directory;
    this.sink = { logger: options.logger.child({ worker: options.index }), onDropped: options.onDroppedEvent };
    this.run = createActor(trialRunMachine, { inspect: options.inspect ?? inspectorFromEnvironment() }).start();
    mkdirSync(this.directory, { recursive: true });
    const outLog = createWriteStream(join(this.directory, 'out.log'));
    const errLog = createWriteStream(join(this.directory, 'err.log'));
    this.testLog = openSync(join(this.directory, 'test.log'), 'a');

    const host = options.host;
    this.spawned = host.spawned.catch((error: unknown) => {
      this.spawnError = error instanceof Error ? error : new Error(String(error));
      throw this.spawnError;
    });
    this.spawned.catch(() => undefined);
    host.stdout.pipe(outLog);
    host.stderr.pipe(errLog);
    const logs = [outLog, errLog];
    // The end of stderr is kept in memory too: err.log is written asynchronously.
    host.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = Buffer.concat([this.stderrTail, chunk]).subarray(-4096);
    });
    const transport = host.amp;
    this.collector = new ResultCollector({
      index: options.index,
      dialect: options.dialect,
      streams: options.streams,
      logger: options.logger,
      onLog: (text, test) => {
        if (this.testLog !== undefined) writeSync(this.testLog, `${text}\n`);
        options.onLog?.(text, test);
      },
    });
    this.connection = new AmpConnection(transport, {
      responders: this.collector.responders(),
      logger: options.logger.child({ worker: options.index }),
      inspect: options.inspect,
      name: 'LocalWorkerAMP',
      role: 'client',
    });

    this.exited = new Promise((resolve) => {
      const finish = (exit: WorkerExit) => {
        if (this.exit !== undefined) return;
        this.exit = exit;
        // Let every byte the worker wrote be parsed before failing what is still pending.
        const settle = () => {
          if (!this.connection.isClosed) this.connection.abort(new WorkerDiedError(this.describeExit()));
          if (this.testLog !== undefined) closeSync(this.testLog);
          this.testLog = undefined;
          // Already crashed when a Run found the connection broken (see runTest).
          if (this.run.getSnapshot().status === 'active') {
            const clean = exit.code === 0 && this.run.getSnapshot().matches('stopping');
            this.control({ type: 'ended', clean, ...(clean ? {} : { reason: this.describeExit() }) });
          }
          // out.log and err.log are complete once `exited` resolves.
          if (this.spawnError !== undefined) for (const log of logs) log.end();
          const flushed = Promise.all(logs.map((log) => (log.closed ? undefined : new Promise<void>((done) => log.once('close', () => done())))));
          void Promise.race([flushed, new Promise((done) => setTimeout(done, 1000).unref())]).then(() => resolve(exit));
        };
        if (transport.readableEnded || transport.destroyed) setImmediate(settle);
        else {
          const timer = setTimeout(settle, 1000);
          transport.once('end', () => {
            clearTimeout(timer);
            setImmediate(settle);
          });
        }
      };
      void host.exited.then(finish);
    });
  }

  /** The dialect this worker speaks, once a result told us (or as forced). */
  get dialect(): TrialDialect | undefined {
    return this.collector.dialect;
  }

  get pid(): number | undefined {
    return this.host.pid;
  }

  get isDead(): boolean {
    return this.exit !== undefined || this.connection.isClosed;
  }

  /** The worker's trialRun takes a Run now: it was not stopped, did not end, has no Run outstanding. */
  get acceptsRuns(): boolean {
    return this.run.getSnapshot().can({ type: 'run', test: '' });
  }

  /** Sends Start without awaiting it (the first Run is pipelined right behind, as Twisted does). */
  start(): void {
    // Only once, and never to a worker that was stopped or ended: the machine leaves idle on either.
    if (!this.run.getSnapshot().matches('idle')) return;
    const directory = this.host.startDirectory;
    this.control({ type: 'start', directory });
    // The manager ignores Start errors: a broken worker shows up in the Run that follows.
    this.connection.callRemote(Start, { directory }).catch(() => undefined);
  }

  /** One Run; resolves with the test's results, never rejects (problems become error results). */
  async runTest(test: string): Promise<RunOutcome> {
    this.start();
    this.collector.begin(test);
    this.control({ type: 'run', test });
    let success: boolean | undefined;
    let dead = false;
    try {
      success = (await this.connection.callRemote(Run, { testCase: test })).success;
    } catch {
      dead = true;
      // The connection failed because the process ended: wait (briefly) for its exit status.
      if (this.exit === undefined) {
        await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
      }
    }
    const results = this.collector.end();
    if (dead) {
      // The Run was never answered: the worker ended (or its connection broke, when the process is
      // still there), so its trialRun crashes now if the exit has not told it yet.
      if (this.run.getSnapshot().status === 'active') this.control({ type: 'ended', clean: false, reason: this.describeExit() });
      results.push(this.synthetic(test, 'worker-died', SYNTHETIC_ERROR_CLASSES.workerDied, `${this.describeExit()} while running ${test}${this.errLogTail()}`));
      return { results, dead, success };
    }
    // What the worker itself reported: a Run with none is the silent 64 KiB loss the machine counts.
    const reportedByWorker = results.length;
    this.control({ type: 'answered' });
    if (results.length === 0) {
      const why =
        success === false
          ? `worker ${this.index} answered Run(${test}) with success=False and reported no outcome: its result ` +
            `reports failed (see ${join(this.directory, 'test.log')}).`
          : `worker ${this.index} answered Run(${test}) without reporting any outcome. Twisted 22.4 workers ` +
            'silently drop a result when one of its AMP values (error text, frames) exceeds 65535 bytes ' +
            '(64 KiB; docs/trial-protocol.md §5, fixed by streams in Twisted 22.10).';
      results.push(this.synthetic(test, 'no-outcome', SYNTHETIC_ERROR_CLASSES.noOutcome, why));
    }
    this.control({ type: 'reported', outcomes: reportedByWorker });
    return { results, dead, success };
  }

  /**
   * Closes fd 3 (the worker exits at EOF) and waits for the process; kills it after `timeoutMs`.
   * Called again, it waits for the same exit.
   */
  stop(timeoutMs = 30_000): Promise<WorkerExit> {
    if (this.exit !== undefined) return this.exited;
    this.stopping ??= this.closeAndWait(timeoutMs);
    return this.stopping;
  }

  private async closeAndWait(timeoutMs: number): Promise<WorkerExit> {
    // Between Runs the machine learns the worker is stopping (its exit 0 is then clean); with a Run
    // outstanding or after a crash this is an abort, and whatever exit follows is not clean.
    if (this.run.getSnapshot().can({ type: 'stop' })) this.control({ type: 'stop' });
    this.connection.close();
    const timer = setTimeout(() => this.host.kill(), timeoutMs);
    timer.unref();
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  describeExit(): string {
    const pid = this.host.pid;
    // A local worker is named as Twisted names it; one elsewhere says where it ran.
    const where = this.host.where === 'local' ? '' : ` on ${this.host.where}`;
    const who = `worker ${this.index}${pid === undefined ? '' : ` (pid ${pid})`}${where}`;
    if (this.spawnError !== undefined) return `${who} could not be started: ${this.spawnError.message}`;
    if (this.exit === undefined) return `${who} lost its AMP connection`;
    if (this.exit.signal !== null) return `${who} was killed by ${this.exit.signal}`;
    // No status at all: the host lost the process (a farm worker that went away).
    if (this.exit.code === null) return `${who} ended without an exit status (its host is gone${this.host.failure === undefined ? '' : `: ${this.host.failure}`})`;
    return `${who} exited with status ${this.exit.code}`;
  }

  private errLogTail(): string {
    const text = this.stderrTail.toString('utf8').trimEnd();
    if (text.length === 0) return '';
    return `\nlast lines of ${join(this.directory, 'err.log')}:\n${text.split('\n').slice(-10).join('\n')}`;
  }

  private control(event: TrialRunEvent): void {
    control(this.run, event, this.sink);
  }

  private synthetic(test: string, origin: TrialResult['origin'], errorClass: string, message: string): TrialResult {
    return { outcome: 'error', test, reportedName: test, errorClass, message, frames: [], origin };
  }
}
