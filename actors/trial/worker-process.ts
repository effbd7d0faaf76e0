import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { createActor, type Actor } from 'xstate';
import { Run, Start, type TrialDialect } from '../../codec/protocols/trial-commands.js';
import { trialRunMachine, type TrialRunEvent } from '../../machines/trial-run.js';
import { AmpConnection, type Inspector } from '../amp-connection.js';
import type { Logger } from '../logger.js';
import { ChildPipes } from './child-pipes.js';
import { control, type ControlSink, type DroppedEventHandler } from './control.js';
import { SYNTHETIC_ERROR_CLASSES, WorkerDiedError, WorkerSpawnError } from './errors.js';
import { ResultCollector, type DialectChoice, type StreamRegistry } from './result-collector.js';
import type { TrialResult } from './results.js';
import { inspectorFromEnvironment } from '../pino-inspector.js';

export { StreamRegistry, toFrames, type DialectChoice } from './result-collector.js';

export interface WorkerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface WorkerProcessOptions {
  readonly index: number;
  /** argv[0] and the rest: `[python, workertrial.py, …]` or `[node, worker-main.js, …]`. */
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** `<tempdir>/<index>`: created now; out.log, err.log and test.log live there. */
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
 * The manager's side of one worker process (docs/trial-protocol.md §1.1, §3.4, §4.1): spawned with AMP on child fds 3
 * and 4, stdout/stderr into out.log/err.log, every worker command answered, results attributed to
 * the Run in progress (the `testName` argument is ignored, as Twisted does).
 */
export class WorkerProcess {
  readonly index: number;
  readonly child: ChildProcess;
  readonly connection: AmpConnection;
  readonly run: Actor<typeof trialRunMachine>;
  readonly directory: string;
  /** Resolves when the process is up; rejects with a {@link WorkerSpawnError} when it cannot be started. */
  readonly spawned: Promise<void>;
  /** Resolves when the process has ended and its AMP output has been read to the end. */
  readonly exited: Promise<WorkerExit>;
  readonly collector: ResultCollector;
  private exit: WorkerExit | undefined;
  private spawnError: WorkerSpawnError | undefined;
  private stopping: Promise<WorkerExit> | undefined;
  /** test.log, written synchronously per TestWrite as Twisted does (no thread-pool round trip per line). */
  private testLog: number | undefined;
  private stderrTail: Buffer = Buffer.alloc(0);
  private readonly sink: ControlSink;

  constructor(options: WorkerProcessOptions) {
    this.index = options.index;
    this.directory = options.directory;
    this.sink = { logger: options.logger.child({ worker: options.index }), onDropped: options.onDroppedEvent };
    this.run = createActor(trialRunMachine, { inspect: options.inspect ?? inspectorFromEnvironment() }).start();
    mkdirSync(this.directory, { recursive: true });
    const outLog = createWriteStream(join(this.directory, 'out.log'));
    const errLog = createWriteStream(join(this.directory, 'err.log'));
    this.testLog = openSync(join(this.directory, 'test.log'), 'a');

    const [command, ...args] = options.argv;
    this.child = spawn(command!, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
    });
    this.spawned = new Promise((resolve, reject) => {
      this.child.once('spawn', resolve);
      // Errors after the spawn (a failed kill) are not fatal: the exit is what counts then.
      this.child.on('error', (error) => {
        if (this.child.pid !== undefined || this.spawnError !== undefined) return;
        this.spawnError = new WorkerSpawnError(options.index, command!, error);
        reject(this.spawnError);
      });
    });
    this.spawned.catch(() => undefined);
    this.child.stdout!.pipe(outLog);
    this.child.stderr!.pipe(errLog);
    const logs = [outLog, errLog];
    // The end of stderr is kept in memory too: err.log is written asynchronously.
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = Buffer.concat([this.stderrTail, chunk]).subarray(-4096);
    });
    const toWorker = this.child.stdio[3] as Writable;
    const fromWorker = this.child.stdio[4] as Readable;
    // A worker that dies makes writes fail with EPIPE; the exit is what we report.
    toWorker.on('error', () => undefined);
    this.child.stdin!.on('error', () => undefined);
    const transport = new ChildPipes(fromWorker, toWorker);
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
      this.spawned.catch(() => finish({ code: null, signal: null }));
      this.child.once('close', (code, signal) => finish({ code, signal }));
    });
  }

  /** The dialect this worker speaks, once a result told us (or as forced). */
  get dialect(): TrialDialect | undefined {
    return this.collector.dialect;
  }

  get pid(): number | undefined {
    return this.child.pid;
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
    this.control({ type: 'start', directory: this.directory });
    // The manager ignores Start errors: a broken worker shows up in the Run that follows.
    this.connection.callRemote(Start, { directory: this.directory }).catch(() => undefined);
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
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    timer.unref();
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  describeExit(): string {
    const who = `worker ${this.index}${this.child.pid === undefined ? '' : ` (pid ${this.child.pid})`}`;
    if (this.spawnError !== undefined) return `${who} could not be started: ${this.spawnError.message}`;
    if (this.exit === undefined) return `${who} lost its AMP connection`;
    if (this.exit.signal !== null) return `${who} was killed by ${this.exit.signal}`;
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
