/**
 * One command run on a worker (Buildbot's RemoteCommand, docs/master-worker-protocol.md §2.1 and §4), driven by the
 * remoteCommand machine. Every update the worker sends is published on `updates$`, known keys or
 * not; the result says how it ended: `{ rc, updates, interrupted, failure }` plus Buildbot's result
 * code.
 *
 * - Output may arrive after `rc` (the worker flushes buffers late); it is accepted until `complete`.
 * - `interrupt(why)` asks the worker to stop; the command still ends with the worker's `complete`
 *   and is CANCELLED whatever its rc.
 * - If the worker disconnects, the command ends at once with a WorkerDisconnectedError (RETRY):
 *   no `complete` can come any more.
 *
 * Buildbot's master waits about a second after `complete` for a missing `rc`, because PB could
 * reorder them; one AMP connection delivers a command's updates and its complete in order, so here
 * `complete` ends the command at once.
 */
import { Subject, type Observable } from 'rxjs';
import { createActor, type Actor } from 'xstate';
import type { UpdateEntry } from '../../codec/protocols/worker-commands.js';
import { remoteCommandMachine } from '../../machines/remote-command.js';
import type { Inspector } from '../amp-connection.js';
import { defaultLogger, type Logger } from '../logger.js';
import { sendIfActive } from '../send-if-active.js';
import { isConnectionGone } from './base-connection.js';
import { RemoteCommandImpl, type Connection, type Subscription } from './connection-api.js';
import { CommandAlreadyRunError, RemoteCommandFailedError, WorkerDisconnectedError } from './errors.js';
import { CANCELLED, DEFAULT_DECODE_RC, EXCEPTION, FAILURE, RETRY, type DecodeRc, type ResultCode } from './results.js';
import { inspectorFromEnvironment } from '../pino-inspector.js';
import { BoundEffects } from '../bound-effects.js';
import { commandFinishChannel, commandStartChannel, commandUpdateChannel } from './diagnostic-channels.js';

/** One `[key, value]` from the worker; `log` values are `[logName, text]`. */
export interface RemoteUpdate {
  readonly key: string;
  readonly value: unknown;
}

export interface RemoteCommandResult {
  /** The worker's rc; undefined if none was sent (Python's None). */
  readonly rc: number | undefined;
  /** Every non-output key (everything but stdout, stderr, header and rc), values in arrival order. */
  readonly updates: Readonly<Record<string, unknown[]>>;
  readonly interrupted: boolean;
  /** Why it did not complete normally: the worker's failure, a refused start, or the disconnect. */
  readonly failure: Error | undefined;
  /** Buildbot's result: RETRY on disconnect, EXCEPTION on failure, CANCELLED if interrupted, else decodeRC. */
  readonly results: ResultCode;
  /** Collected output, when asked for. */
  readonly stdout?: string;
  readonly stderr?: string;
}

export interface RemoteCommandOptions {
  readonly inspect?: Inspector;
  readonly logger?: Logger;
  /** rc → result (default: only 0 succeeds). */
  readonly decodeRC?: DecodeRc;
  readonly collectStdout?: boolean;
  readonly collectStderr?: boolean;
  /** Keys only published on `updates$`, never kept in the result: a byte stream (`trial_amp`) would pile up there. */
  readonly streamedKeys?: ReadonlySet<string>;
}

const OUTPUT_KEYS = new Set(['stdout', 'stderr', 'header', 'rc']);
let commandCounter = 0;

/** What the remote command machine asks its RemoteCommand to do. */
interface RemoteCommandEffects {
  sendStart(): void;
  announceStarted(): void;
  sendInterrupt(why: string): void;
  finish(disconnected: boolean, interrupted: boolean): void;
}

/** Provided once for all commands: a fan-out to thousands of workers must not rebuild the machine each time. */
const commandEffects = new BoundEffects<RemoteCommandEffects>('remote command');
const providedRemoteCommandMachine = () =>
  commandEffects.provideOnce(remoteCommandMachine, (logic) =>
    logic.provide({
      actions: {
        sendStart: ({ self }) => commandEffects.of(self).sendStart(),
        announceStarted: ({ self }) => commandEffects.of(self).announceStarted(),
        sendInterrupt: ({ self, event }) => commandEffects.of(self).sendInterrupt(event.type === 'interrupt' ? event.why : ''),
        // The snapshot is not updated yet while entry actions run: go by the event and context.
        finish: ({ self, event, context }) => commandEffects.of(self).finish(event.type === 'disconnected', context.interrupted),
      },
    }),
  );

/** Command ids are a decimal counter, as Buildbot's. */
export function nextCommandId(): string {
  return String(++commandCounter);
}

export class RemoteCommand extends RemoteCommandImpl {
  readonly commandName: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly actor: Actor<typeof remoteCommandMachine>;
  /** Settles once the command has ended, however it ended (never rejects). */
  readonly result: Promise<RemoteCommandResult>;
  /**
   * Resolves true once the worker has accepted the start and the command runs; false if the
   * command ended before that answer was seen (refused, disconnected, or finished that fast).
   */
  readonly started: Promise<boolean>;
  /** Set by `run`. */
  commandId: string | undefined;
  builderName: string | undefined;

  private readonly updatesSubject = new Subject<RemoteUpdate>();
  private readonly logger: Logger;
  private readonly decodeRC: DecodeRc;
  private readonly collectStdout: boolean;
  private readonly collectStderr: boolean;
  private readonly streamedKeys: ReadonlySet<string> | undefined;
  private readonly collectedUpdates: Record<string, unknown[]> = {};
  private stdout = '';
  private stderr = '';
  private rc: number | undefined;
  private startedAt = 0;
  private failure: Error | undefined;
  private connection: Connection | undefined;
  private subscription: Subscription | undefined;
  private resolveResult!: (result: RemoteCommandResult) => void;
  private resolveStarted!: (started: boolean) => void;

  constructor(commandName: string, args: Readonly<Record<string, unknown>> = {}, options: RemoteCommandOptions = {}) {
    super();
    this.commandName = commandName;
    this.args = args;
    this.logger = (options.logger ?? defaultLogger).child({ component: 'RemoteCommand', command: commandName });
    this.decodeRC = options.decodeRC ?? DEFAULT_DECODE_RC;
    this.collectStdout = options.collectStdout ?? false;
    this.collectStderr = options.collectStderr ?? false;
    this.streamedKeys = options.streamedKeys;
    this.result = new Promise((resolve) => (this.resolveResult = resolve));
    this.started = new Promise((resolve) => (this.resolveStarted = resolve));
    const actor = createActor(providedRemoteCommandMachine(), { inspect: options.inspect ?? inspectorFromEnvironment() });
    this.actor = commandEffects
      .bind(actor, {
        sendStart: () => this.sendStart(),
        announceStarted: () => this.resolveStarted(true),
        sendInterrupt: (why) => this.sendInterrupt(why),
        finish: (disconnected, interrupted) => this.finish(disconnected, interrupted),
      })
      .start();
  }

  /** Every update, as it arrives; completes when the command ends. Hot: subscribe before `run`. */
  get updates$(): Observable<RemoteUpdate> {
    return this.updatesSubject.asObservable();
  }

  /** idle, starting, running, interrupting, completed, failed or disconnected. */
  get state(): string {
    return String(this.actor.getSnapshot().value);
  }

  get interrupted(): boolean {
    return this.actor.getSnapshot().context.interrupted;
  }

  /** Starts the command on `connection` for `builderName`; resolves with the result when it ends. */
  run(connection: Connection, builderName: string): Promise<RemoteCommandResult> {
    if (!this.actor.getSnapshot().can({ type: 'start' })) return Promise.reject(new CommandAlreadyRunError(this.commandName));
    this.connection = connection;
    this.builderName = builderName;
    this.commandId = nextCommandId();
    this.subscription = connection.notifyOnDisconnect((reason) => {
      if (this.failure === undefined) this.failure = new WorkerDisconnectedError(connection.name, { cause: reason });
      sendIfActive(this.actor, { type: 'disconnected' });
    });
    this.startedAt = Date.now();
    if (commandStartChannel.hasSubscribers) {
      commandStartChannel.publish({ commandId: this.commandId, worker: connection.name, connection, command: this.commandName, builder: builderName, args: this.args });
    }
    this.actor.send({ type: 'start' });
    return this.result;
  }

  /**
   * Asks the worker to interrupt the command; the result still waits for its `complete`. A no-op
   * before `run` and after the end, as in Buildbot.
   */
  async interrupt(why: string | Error): Promise<void> {
    sendIfActive(this.actor, { type: 'interrupt', why: why instanceof Error ? why.message : why });
  }

  // RemoteCommandImpl: the worker's calls, routed here by the connection.
  remoteUpdate(updates: readonly UpdateEntry[]): void {
    for (const [key, value] of updates) {
      if (key === 'rc') this.rc = typeof value === 'number' ? value : Number(value);
      else if (key === 'stdout' && this.collectStdout) this.stdout += String(value);
      else if (key === 'stderr' && this.collectStderr) this.stderr += String(value);
      if (!OUTPUT_KEYS.has(key) && this.streamedKeys?.has(key) !== true) (this.collectedUpdates[key] ??= []).push(value);
      this.updatesSubject.next({ key, value });
      if (commandUpdateChannel.hasSubscribers && this.connection !== undefined && this.commandId !== undefined) {
        commandUpdateChannel.publish({ commandId: this.commandId, worker: this.connection.name, connection: this.connection, key, value });
      }
    }
  }

  remoteComplete(failure: string | undefined): void {
    if (failure !== undefined && failure !== '') this.failure ??= new RemoteCommandFailedError(this.commandName, failure);
    sendIfActive(this.actor, { type: 'complete', failed: failure !== undefined && failure !== '' });
  }

  private sendStart(): void {
    const connection = this.connection;
    if (connection === undefined || this.builderName === undefined || this.commandId === undefined) return;
    let answer: Promise<void>;
    try {
      // Called now, not a tick later: an interrupt sent right after must follow it on the wire.
      answer = connection.remoteStartCommand(this, this.builderName, this.commandId, this.commandName, this.args);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      () => sendIfActive(this.actor, { type: 'started' }),
      (error: unknown) => {
        if (isConnectionGone(error)) {
          this.failure ??= new WorkerDisconnectedError(connection.name, { cause: error });
          sendIfActive(this.actor, { type: 'disconnected' });
          return;
        }
        this.failure ??= error as Error;
        this.logger.warn({ err: error }, 'the worker refused the command');
        sendIfActive(this.actor, { type: 'startFailed' });
      },
    );
  }

  private sendInterrupt(why: string): void {
    const connection = this.connection;
    if (connection === undefined || this.builderName === undefined || this.commandId === undefined) return;
    connection.remoteInterruptCommand(this.builderName, this.commandId, why).catch((error: unknown) => {
      // A lost connection ends the command through the disconnect notification anyway.
      this.logger.info({ err: error }, 'interrupt could not be delivered');
    });
  }

  private finish(disconnected: boolean, interrupted: boolean): void {
    this.subscription?.unsubscribe();
    let results: ResultCode;
    if (disconnected) results = RETRY;
    else if (this.failure !== undefined) results = EXCEPTION;
    else if (interrupted) results = CANCELLED;
    else results = this.decodeRC.get(this.rc ?? null) ?? FAILURE;
    const result: RemoteCommandResult = {
      rc: this.rc,
      updates: this.collectedUpdates,
      interrupted,
      failure: this.failure,
      results,
      ...(this.collectStdout ? { stdout: this.stdout } : {}),
      ...(this.collectStderr ? { stderr: this.stderr } : {}),
    };
    this.updatesSubject.complete();
    if (commandFinishChannel.hasSubscribers && this.connection !== undefined && this.commandId !== undefined) {
      const { commandId, connection, commandName: command } = this;
      commandFinishChannel.publish({ commandId, worker: connection.name, connection, command, result, durationMs: Date.now() - this.startedAt });
    }
    this.resolveStarted(false);
    this.resolveResult(result);
  }
}
