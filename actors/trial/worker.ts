import type { Duplex } from 'node:stream';
import { createActor, type Actor } from 'xstate';
import { MAX_VALUE_LENGTH } from '../../codec/box.js';
import {
  AddSkip,
  AddSuccess,
  AddUnexpectedSuccess,
  Run,
  Start,
  TestWrite,
  inline,
  streamed,
  type TrialDialect,
} from '../../codec/protocols/trial-commands.js';
import { trialRunMachine, type TrialRunEvent } from '../../machines/trial-run.js';
import { AmpConnection, type Inspector } from '../amp-connection.js';
import { sendChunks } from '../amp/stream-sender.js';
import { defaultLogger, type Logger } from '../logger.js';
import { responders } from '../responders.js';
import { control, type ControlSink, type DroppedEventHandler } from './control.js';
import { runNodeTest, type WorkerOutcome } from './node-tests.js';
import type { TrialFrame } from './results.js';
import { inspectorFromEnvironment } from '../pino-inspector.js';

/**
 * Trial's worker side (`WorkerProtocol`, docs/trial-protocol.md §1.3, §2, §4) in TypeScript, for
 * node:test tests: `Start` names the directory tests run in (each test's child node process gets it as
 * its cwd; this process never changes directory), `Run` runs a test id in a child node process and
 * reports each outcome to the manager in the chosen dialect before answering.
 *
 * The ≥22.10 stream dialect is the default: every error/failure/expected failure opens streams for
 * its text and frames and awaits each answer (§4.3). The 22.4 inline dialect is for Twisted 22.4
 * managers (they answer `StreamOpen` with UNHANDLED); there a value over 65535 bytes cannot be sent
 * at all, so instead of losing the result as a 22.4 Python worker does, the text is cut to fit and
 * says so, and the oldest frames are dropped.
 */
export interface TrialWorkerOptions {
  /** Which manager schema to speak; default '22.10' (streams). */
  readonly dialect?: TrialDialect;
  /** `--force-gc`: run `global.gc()` before and after every test when node exposes it. */
  readonly forceGc?: boolean;
  /** Extra node options for the test processes (e.g. `--import=tsx`). */
  readonly nodeOptions?: readonly string[];
  /** Base for relative test file names; default: the cwd when the worker was created. */
  readonly root?: string;
  readonly logger?: Logger;
  readonly inspect?: Inspector;
  /** Control events the worker's trialRun could not take (see control.ts). */
  readonly onDroppedEvent?: DroppedEventHandler;
  /** Replaces the node:test adapter (tests, other runners). */
  readonly runTest?: (id: string, cwd: string, onOutput: (text: string) => void) => Promise<WorkerOutcome[]>;
}

/** The largest UTF-8 text that fits one AMP value, cut on a character boundary. */
export function fitValue(text: string, limit = MAX_VALUE_LENGTH): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= limit) return text;
  const note = `\n[ampstate: cut from ${bytes.length} bytes; the 22.4 trial dialect cannot send AMP values over ${limit} bytes]`;
  let end = limit - Buffer.byteLength(note);
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString('utf8') + note;
}

/** Frames as the flat list of strings trial sends; in 22.4 the whole list must fit one value. */
export function flattenFrames(frames: readonly TrialFrame[], limit = Infinity): string[] {
  const flat = frames.flatMap((f) => [f.name, f.file, String(f.line)]);
  // ListOf(Unicode): each element costs 2 length bytes plus its UTF-8 bytes.
  const size = (list: string[]) => list.reduce((n, s) => n + 2 + Buffer.byteLength(s), 0);
  while (flat.length > 0 && size(flat) > limit) flat.splice(0, 3);
  return flat.map((s) => fitValue(s));
}

/** UTF-8 chunks of at most 65535 bytes (may split a character: the manager joins before decoding). */
export function chunkText(text: string, limit = MAX_VALUE_LENGTH): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += limit) chunks.push(bytes.subarray(offset, offset + limit));
  return chunks;
}

export class TrialWorker {
  readonly connection: AmpConnection;
  readonly dialect: TrialDialect;
  readonly run: Actor<typeof trialRunMachine>;
  private readonly options: TrialWorkerOptions;
  private readonly logger: Logger;
  private readonly root: string;
  /** Where tests run until Start names a directory (the machine's context then holds it). */
  private readonly launchDirectory = process.cwd();
  private readonly sink: ControlSink;
  /** Runs execute strictly one after another, as in workertrial's byte loop. */
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(transport: Duplex, options: TrialWorkerOptions = {}) {
    this.options = options;
    this.dialect = options.dialect ?? '22.10';
    this.root = options.root ?? this.launchDirectory;
    this.logger = (options.logger ?? defaultLogger).child({ trialWorker: process.pid });
    this.sink = { logger: this.logger, onDropped: options.onDroppedEvent };
    this.run = createActor(trialRunMachine, { inspect: options.inspect ?? inspectorFromEnvironment() }).start();
    const table = responders()
      .on(Start, ({ directory }) => {
        this.control({ type: 'start', directory });
        return { success: true };
      })
      .on(Run, ({ testCase }) => this.enqueue(() => this.runTest(testCase)));
    this.connection = new AmpConnection(transport, {
      responders: table,
      logger: this.logger,
      inspect: options.inspect,
      name: 'WorkerProtocol',
      role: 'server',
    });
  }

  /** Resolves when no Run is in progress or queued. */
  async idle(): Promise<void> {
    while (this.pending > 0) await this.queue.catch(() => undefined);
  }

  /** The directory tests run in: Start's, or the one the worker was launched in. */
  get directory(): string {
    return this.run.getSnapshot().context.directory ?? this.launchDirectory;
  }

  /**
   * Fd 3 reached EOF: no more Runs will come. The Run in progress, if any, finishes first (as
   * workertrial only reads EOF between commands); then the machine is stopping.
   */
  async stopping(): Promise<void> {
    await this.idle();
    this.control({ type: 'stop' });
  }

  /** The worker is about to exit: cleanly after EOF, or because the connection broke. */
  ended(clean: boolean, reason?: string): void {
    this.control({ type: 'ended', clean, ...(reason === undefined ? {} : { reason }) });
  }

  /** Sends one log line to the manager (it becomes a line of the test log). */
  async log(text: string): Promise<void> {
    for (const piece of splitForTestWrite(text)) {
      await this.connection.callRemote(TestWrite, { out: piece }).catch((error: unknown) => {
        this.logger.warn({ err: error }, 'TestWrite failed');
      });
    }
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    this.pending += 1;
    const result = this.queue.then(task).finally(() => (this.pending -= 1));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private control(event: TrialRunEvent): void {
    control(this.run, event, this.sink);
  }

  private async runTest(testCase: string): Promise<{ success: boolean }> {
    this.control({ type: 'run', test: testCase });
    this.gc();
    const logs: Promise<void>[] = [this.log(`--> ${testCase} <--`)];
    const runner = this.options.runTest ?? ((id, cwd, onOutput) => runNodeTest(id, { cwd, root: this.root, nodeOptions: this.options.nodeOptions }, onOutput));
    let outcomes: WorkerOutcome[];
    try {
      outcomes = await runner(testCase, this.directory, (line) => logs.push(this.log(line)));
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      outcomes = [{ kind: 'error', testName: testCase, errorClass: 'builtins.RuntimeError', message: `ampstate worker could not run the test: ${err.message}`, frames: [] }];
    }
    this.gc();
    await Promise.all(logs);
    this.control({ type: 'answered' });
    const failures: string[] = [];
    for (const outcome of outcomes) {
      try {
        await this.report(outcome);
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
    if (failures.length > 0) {
      // As ≥22.10 workers do (§4.4): log it, send one more error for the Run's test, answer False.
      const text = failures.join('; ');
      await this.log(`Result reporting for ${testCase} failed: ${text}`);
      await this.report({ kind: 'error', testName: testCase, errorClass: 'twisted.protocols.amp.UnknownRemoteError', message: text, frames: [] }).catch(
        () => undefined,
      );
    }
    this.control({ type: 'reported', outcomes: outcomes.length });
    return { success: failures.length === 0 };
  }

  private gc(): void {
    if (!this.options.forceGc) return;
    const gc = (globalThis as { gc?: () => void }).gc;
    if (typeof gc === 'function') gc();
  }

  private async report(outcome: WorkerOutcome): Promise<void> {
    const c = this.connection;
    const testName = fitValue(outcome.testName);
    switch (outcome.kind) {
      case 'success':
        await c.callRemote(AddSuccess, { testName });
        return;
      case 'skip':
        await c.callRemote(AddSkip, { testName, reason: fitValue(outcome.reason ?? '') });
        return;
      case 'unexpectedSuccess':
        await c.callRemote(AddUnexpectedSuccess, { testName, todo: fitValue(outcome.todo ?? '') });
        return;
      default:
        break;
    }
    const message = outcome.message ?? '';
    const errorClass = outcome.errorClass ?? 'builtins.Exception';
    const frames = outcome.frames ?? [];
    if (this.dialect === '22.4') {
      if (outcome.kind === 'expectedFailure') {
        await c.callRemote(inline.AddExpectedFailure, { testName, error: fitValue(message), todo: fitValue(outcome.todo ?? '') });
      } else if (outcome.kind === 'failure') {
        await c.callRemote(inline.AddFailure, { testName, fail: fitValue(message), failClass: errorClass, frames: flattenFrames(frames, MAX_VALUE_LENGTH) });
      } else {
        await c.callRemote(inline.AddError, { testName, error: fitValue(message), errorClass, frames: flattenFrames(frames, MAX_VALUE_LENGTH) });
      }
      return;
    }
    const messageStream = await this.openStream(chunkText(message));
    if (outcome.kind === 'expectedFailure') {
      await c.callRemote(streamed.AddExpectedFailure, { testName, errorStreamId: messageStream, todo: fitValue(outcome.todo ?? '') });
      return;
    }
    const framesStream = await this.openStream(flattenFrames(frames).map((s) => Buffer.from(s, 'utf8')));
    if (outcome.kind === 'failure') {
      await c.callRemote(streamed.AddFailure, { testName, failStreamId: messageStream, failClass: errorClass, framesStreamId: framesStream });
    } else {
      await c.callRemote(streamed.AddError, { testName, errorStreamId: messageStream, errorClass, framesStreamId: framesStream });
    }
  }

  /** StreamOpen, then one StreamWrite per chunk, each awaited (§4.3). */
  private openStream(chunks: readonly Buffer[]): Promise<number> {
    return sendChunks(this.connection, chunks);
  }
}

/** TestWrite is never chunked by trial (Twisted ticket #12482): long output goes out as several writes instead. */
function splitForTestWrite(text: string): string[] {
  if (Buffer.byteLength(text) <= MAX_VALUE_LENGTH) return [text];
  const pieces: string[] = [];
  let rest = text;
  while (Buffer.byteLength(rest) > MAX_VALUE_LENGTH) {
    let cut = Math.min(rest.length, MAX_VALUE_LENGTH);
    while (Buffer.byteLength(rest.slice(0, cut)) > MAX_VALUE_LENGTH) cut = Math.floor(cut * 0.9);
    // Don't split a surrogate pair.
    if (cut > 0 && /[\ud800-\udbff]/.test(rest[cut - 1]!)) cut -= 1;
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  pieces.push(rest);
  return pieces;
}

/** Command-line options of worker-main (see there); unknown ones are ignored. */
export interface WorkerArguments {
  dialect: TrialDialect;
  forceGc: boolean;
  nodeOptions: string[];
}

export function parseWorkerArguments(argv: readonly string[], logger: Logger = defaultLogger): WorkerArguments {
  const parsed: WorkerArguments = { dialect: '22.10', forceGc: false, nodeOptions: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inlineValue] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inlineValue ?? argv[++i];
    if (flag === '--dialect') {
      const dialect = value();
      if (dialect === '22.4' || dialect === '22.10') parsed.dialect = dialect;
      else logger.warn({ dialect }, 'trial worker: ignoring an unknown --dialect');
    } else if (flag === '--force-gc') parsed.forceGc = true;
    else if (flag === '--node-option') {
      const option = value();
      if (option !== undefined) parsed.nodeOptions.push(option);
    }
    // Anything else is ignored: Python worker options (`--recursionlimit 2000`), stray values.
  }
  return parsed;
}
