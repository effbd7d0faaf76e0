/**
 * The worker's side of the master/worker protocol over AMP (docs/master-worker-protocol.md §1, §4, §6): one
 * session connects to the master, logs in, serves the master's commands and runs worker commands,
 * and after any loss reconnects with Buildbot's backoff. Nothing is resumed across connections:
 * the commands of a lost connection are killed (process groups included), as PB workers do and
 * docs/master-worker-protocol.md §6 recommends.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Subject, type Observable } from 'rxjs';
import { createActor, type Actor } from 'xstate';
import {
  AMP_OUTPUT_BUFFER_SIZE,
  CommandInput,
  GetWorkerInfo,
  InterruptCommand,
  Keepalive,
  Login,
  Print,
  SetBuilderList,
  SetWorkerSettings,
  Shutdown,
  StartCommand,
} from '../../codec/protocols/worker-commands.js';
import { CommandRejectedError, LoginRefusedError, NotAuthenticatedError, UnknownCommandIdError } from '../../codec/protocols/worker-errors.js';
import { ConnectionLostError } from '../../codec/errors.js';
import { reconnectDelaySeconds, workerSessionMachine, type WorkerSessionStopReason } from '../../machines/worker-session.js';
import type { AmpConnection, Inspector } from '../amp-connection.js';
import { warnIfCleartext } from '../cleartext-warning.js';
import { connect, type ConnectOptions } from '../connect.js';
import { settledWithin } from '../deadline.js';
import type { EndpointDescription } from '../endpoint.js';
import { defaultLogger, type Logger } from '../logger.js';
import type { ProcessGroupRecorder } from './process-group-ledger.js';
import { ResponderTable } from '../responders.js';
import { sendIfActive } from '../send-if-active.js';
import { AmpCommandChannel } from './command-channel.js';
import type { RunningCommand } from './commands/command.js';
import { OutputBuffer, type OutputBufferOptions } from './commands/output-buffer.js';
import { startCommand } from './commands/registry.js';
import { collectWorkerInfo } from './commands/worker-info.js';
import { ampstateVersion } from './version.js';
import { inspectorFromEnvironment } from '../pino-inspector.js';

export type { WorkerSessionStopReason } from '../../machines/worker-session.js';

/** Blocks in flight per transfer that we offer; the master's answer to Login may lower it. */
export const DEFAULT_TRANSFER_WINDOW = 16;
/** Buildbot stops the reactor 0.2 s after answering shutdown, hoping the answer got through. */
export const SHUTDOWN_DELAY_MS = 200;

/** Where timers come from; tests pass a fake one to step through the backoff. */
export interface SessionClock {
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: SessionClock = {
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface WorkerSessionOptions {
  /** The master's client endpoint, e.g. `tcp:127.0.0.1:9989`. */
  readonly master: string | EndpointDescription;
  readonly name: string;
  readonly password: string;
  readonly basedir: string;
  /** Transfer blocks we are willing to keep in flight (default 16; 1 is Buildbot's stop-and-wait). */
  readonly transferWindow?: number;
  /** Give up after this many failures in a row (connects, refused logins, losses); default never. */
  readonly maxRetries?: number;
  readonly logger?: Logger;
  /** Any xstate inspector: sees the session machine and every connection's machines. */
  readonly inspect?: Inspector;
  readonly clock?: SessionClock;
  /** U(0,1) for the backoff jitter. */
  readonly random?: () => number;
  /** The worker environment: reported in the info and the base of every command's environment. */
  readonly environ?: NodeJS.ProcessEnv;
  /** Reported as `version`; the ampstate package version by default. */
  readonly version?: string;
  readonly numcpus?: number;
  readonly deleteLeftoverDirs?: boolean;
  /** Records the process groups commands start (the daemon's ProcessGroupLedger); unset, nothing is recorded. */
  readonly processGroups?: ProcessGroupRecorder;
  readonly connectTimeoutMs?: number;
  readonly loginTimeoutMs?: number;
  readonly shutdownDelayMs?: number;
  /** How to reach the master; `connect(master, options)` by default (tests pass an in-memory pair). */
  readonly connect?: (options: ConnectOptions) => Promise<AmpConnection>;
}

export type WorkerSessionState = 'idle' | 'connecting' | 'authenticating' | 'attached' | 'disconnected' | 'stopped';

/** What the session reports as it goes; for daemons, progress displays and tests. */
export type WorkerSessionNotice =
  | { readonly type: 'state'; readonly state: WorkerSessionState }
  | { readonly type: 'attached'; readonly transferWindow: number }
  | { readonly type: 'loginRefused'; readonly message: string }
  | { readonly type: 'retryScheduled'; readonly attempt: number; readonly delayMs: number }
  | { readonly type: 'commandStarted'; readonly commandId: string; readonly commandName: string }
  | { readonly type: 'commandFinished'; readonly commandId: string; readonly failure: string | undefined; readonly killed: boolean }
  | { readonly type: 'shutdownRequested' }
  | { readonly type: 'stopped'; readonly reason: WorkerSessionStopReason };

interface CommandRecord {
  readonly commandId: string;
  readonly commandName: string;
  readonly running: RunningCommand;
  readonly channel: AmpCommandChannel;
  killed: boolean;
}

/**
 * One connection attempt and everything that belongs to it: its connection, its commands. Whether
 * it is logged in is the machine's state; an attempt is over once it is no longer `current`.
 */
class Attachment {
  connection: AmpConnection | undefined;
  readonly commands = new Map<string, CommandRecord>();
  /** Resolves when the Login call has come back, either way (see `requireLogin`). */
  readonly loginSettled: Promise<void>;
  settleLogin!: () => void;

  constructor() {
    this.loginSettled = new Promise((resolve) => (this.settleLogin = resolve));
  }
}

export class WorkerSession {
  readonly logger: Logger;
  /** Resolves once the session has stopped: shut down by the master, stopped locally, or gave up. */
  readonly stopped: Promise<WorkerSessionStopReason>;

  private readonly options: WorkerSessionOptions;
  private readonly actor: Actor<typeof workerSessionMachine>;
  private readonly notices = new Subject<WorkerSessionNotice>();
  private readonly clock: SessionClock;
  private readonly random: () => number;
  private readonly environ: NodeJS.ProcessEnv;
  private readonly offeredWindow: number;
  private readonly endpointLabel: string;
  private outputOptions: OutputBufferOptions = { bufferSize: AMP_OUTPUT_BUFFER_SIZE };
  private builders = new Map<string, string>();
  /** The attempt the machine is on; cleared when the machine drops it. */
  private current: Attachment | undefined;
  private retryTimer: unknown;
  /** The last state announced in the notices (set from the machine's snapshots only). */
  private announcedState: string | undefined;
  private resolveStopped!: (reason: WorkerSessionStopReason) => void;

  constructor(options: WorkerSessionOptions) {
    this.options = options;
    this.logger = (options.logger ?? defaultLogger).child({ worker: options.name });
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
    this.environ = options.environ ?? process.env;
    this.offeredWindow = Math.max(1, Math.floor(options.transferWindow ?? DEFAULT_TRANSFER_WINDOW));
    this.endpointLabel = typeof options.master === 'string' ? options.master : JSON.stringify(options.master);
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    const machine = workerSessionMachine.provide({
      actions: {
        openConnection: () => void this.connectOnce(),
        sendLogin: () => void this.logIn(),
        announceAttached: ({ context }) => this.announceAttached(context.transferWindow ?? 1),
        dropAttempt: () => this.dropAttempt(new ConnectionLostError('worker disconnected')),
        scheduleRetry: ({ context }) => this.scheduleRetry(context.attempt),
        cancelRetry: () => this.cancelRetry(),
        // The snapshot is not updated yet while entry actions run: go by the context.
        shutDown: ({ context }) => void this.shutDown(context.stopReason ?? 'stopped'),
      },
    });
    this.actor = createActor(machine, { input: { maxRetries: options.maxRetries }, inspect: options.inspect ?? inspectorFromEnvironment() });
    this.actor.subscribe((snapshot) => this.announceState(String(snapshot.value)));
    this.actor.start();
  }

  /** Starts connecting (once; after a stop, never). */
  start(): this {
    if (this.actor.getSnapshot().can({ type: 'start' })) {
      this.logger.info({ master: this.endpointLabel, basedir: this.options.basedir }, `Starting worker ${this.options.name} -- version: ${this.version}`);
      if (this.options.connect === undefined) warnIfCleartext(this.logger, this.options.master);
      this.actor.send({ type: 'start' });
    }
    return this;
  }

  /**
   * Stops for good: kills running commands (process groups), closes the connection and cancels
   * any retry. Resolves once the commands have settled (or after a few seconds if one will not).
   */
  async stop(reason: WorkerSessionStopReason = 'stopped'): Promise<void> {
    sendIfActive(this.actor, { type: 'stop', reason });
    await this.stopped;
  }

  get state(): WorkerSessionState {
    return String(this.actor.getSnapshot().value) as WorkerSessionState;
  }

  get notices$(): Observable<WorkerSessionNotice> {
    return this.notices.asObservable();
  }

  /** The session machine, for inspection and tests. */
  get machine(): Actor<typeof workerSessionMachine> {
    return this.actor;
  }

  /** The connection of the current attempt, if any. */
  get connection(): AmpConnection | undefined {
    return this.current?.connection;
  }

  /** Ids of the commands running on the current connection. */
  get runningCommands(): string[] {
    return [...(this.current?.commands.keys() ?? [])];
  }

  /** The window negotiated at the last login. */
  get transferWindow(): number | undefined {
    return this.actor.getSnapshot().context.transferWindow;
  }

  private get version(): string {
    return this.options.version ?? ampstateVersion();
  }

  // ---------------------------------------------------------------- the machine's side effects

  private announceState(state: string): void {
    if (state === this.announcedState) return;
    this.announcedState = state;
    this.notices.next({ type: 'state', state: state as WorkerSessionState });
  }

  private announceAttached(transferWindow: number): void {
    this.logger.info({ transferWindow }, 'Connected to master; worker is ready');
    this.notices.next({ type: 'attached', transferWindow });
  }

  private scheduleRetry(attempt: number): void {
    const delayMs = Math.round(reconnectDelaySeconds(attempt, this.random) * 1000);
    this.logger.info({ attempt, delayMs }, `Scheduling retry ${attempt} to connect ${this.endpointLabel} in ${(delayMs / 1000).toFixed(3)} seconds.`);
    this.notices.next({ type: 'retryScheduled', attempt, delayMs });
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      sendIfActive(this.actor, { type: 'retry' });
    }, delayMs);
  }

  private cancelRetry(): void {
    if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private async connectOnce(): Promise<void> {
    const attachment = new Attachment();
    this.current = attachment;
    const connectFn = this.options.connect ?? ((options: ConnectOptions) => connect(this.options.master, options));
    let connection: AmpConnection;
    try {
      connection = await connectFn({
        responders: this.createResponders(attachment),
        logger: this.logger,
        inspect: this.options.inspect,
        name: 'WorkerSession',
        timeoutMs: this.options.connectTimeoutMs ?? 30_000,
      });
    } catch (error) {
      if (this.current !== attachment) return;
      const reason = (error as Error).message;
      this.logger.warn({ reason }, `connection to master failed: ${reason}`);
      sendIfActive(this.actor, { type: 'connectFailed', reason });
      return;
    }
    if (this.current !== attachment) {
      connection.close();
      return;
    }
    attachment.connection = connection;
    void connection.closed.then((reason) => this.onConnectionClosed(attachment, reason));
    sendIfActive(this.actor, { type: 'connected' });
  }

  private async logIn(): Promise<void> {
    const attachment = this.current;
    const connection = attachment?.connection;
    if (attachment === undefined || connection === undefined) return;
    const { name, password } = this.options;
    try {
      const answer = await connection.callRemote(
        Login,
        { username: name, password, transferWindow: this.offeredWindow },
        { timeoutMs: this.options.loginTimeoutMs ?? 30_000 },
      );
      if (this.current !== attachment) return;
      const transferWindow = Math.max(1, Math.min(this.offeredWindow, Math.floor(answer.transferWindow)));
      sendIfActive(this.actor, { type: 'loggedIn', transferWindow });
    } catch (error) {
      if (this.current !== attachment) return;
      if (error instanceof LoginRefusedError) {
        this.logger.error(
          { reason: error.message },
          `master refused the login of worker '${name}': ${error.message}; check --name and --password-file`,
        );
        this.notices.next({ type: 'loginRefused', message: error.message });
        // The machine drops the attempt, which closes the connection.
        sendIfActive(this.actor, { type: 'loginRefused', reason: error.message });
        return;
      }
      // A timeout or a lost connection: the close handler reports the loss.
      this.logger.warn({ err: error }, 'login failed');
      connection.abort(error instanceof Error ? error : undefined);
    } finally {
      attachment.settleLogin();
    }
  }

  private onConnectionClosed(attachment: Attachment, reason: Error): void {
    this.killCommands(attachment, reason);
    if (this.current !== attachment) return;
    this.logger.info({ reason: reason.message }, 'lost connection to master');
    sendIfActive(this.actor, { type: 'connectionLost', reason: reason.message });
  }

  /** Leaving the attempt, whatever the reason: its commands die and its connection closes. */
  private dropAttempt(reason: Error): void {
    const attachment = this.current;
    if (attachment === undefined) return;
    this.current = undefined;
    this.killCommands(attachment, reason);
    const connection = attachment.connection;
    if (connection !== undefined && !connection.isClosed) connection.close();
  }

  private killCommands(attachment: Attachment, reason: Error): void {
    for (const record of attachment.commands.values()) {
      if (record.killed) continue;
      record.killed = true;
      this.logger.info({ commandId: record.commandId, reason: reason.message }, `killing command ${record.commandName} [id ${record.commandId}]`);
      record.running.kill();
    }
  }

  /**
   * The machine has stopped: the attempt is dropped (SIGKILL goes to every process group), then
   * this waits for the bookkeeping to settle and reports the end.
   */
  private async shutDown(reason: WorkerSessionStopReason): Promise<void> {
    const attachment = this.current;
    const running = [...(attachment?.commands.values() ?? [])].map((record) => record.running.done.catch(() => undefined));
    this.dropAttempt(new ConnectionLostError(`worker ${reason}`));
    await settledWithin(Promise.all(running), 5000);
    const connection = attachment?.connection;
    if (connection !== undefined) await settledWithin(connection.closed, 2000);
    this.logger.info({ reason }, 'worker stopped');
    this.notices.next({ type: 'stopped', reason });
    this.notices.complete();
    this.resolveStopped(reason);
  }

  // ---------------------------------------------------------------- master → worker commands

  private createResponders(attachment: Attachment): ResponderTable {
    const table = new ResponderTable();
    table.on(Print, async ({ message }) => {
      await this.requireLogin(attachment);
      this.logger.info({ message }, `message from master: ${message}`);
      return {};
    });
    table.on(Keepalive, async () => {
      await this.requireLogin(attachment);
      this.logger.debug('Connection keepalive confirmed.');
      return {};
    });
    table.on(GetWorkerInfo, async () => {
      await this.requireLogin(attachment);
      const info = await collectWorkerInfo(this.options.basedir, {
        version: this.version,
        numcpus: this.options.numcpus,
        environ: this.environ,
        deleteLeftoverDirs: this.options.deleteLeftoverDirs,
      });
      return { info };
    });
    table.on(SetWorkerSettings, async ({ bufferSize, bufferTimeout, newlineRe, maxLineLength }) => {
      await this.requireLogin(attachment);
      this.applySettings({ bufferSize, bufferTimeoutSeconds: bufferTimeout, newlinePattern: newlineRe, maxLineLength });
      return {};
    });
    table.on(SetBuilderList, async ({ builders }) => {
      await this.requireLogin(attachment);
      return { builders: await this.setBuilderList(builders) };
    });
    table.on(StartCommand, async ({ commandId, commandName, args }) => {
      await this.requireLogin(attachment);
      return this.startCommand(attachment, commandId, commandName, args);
    });
    table.on(InterruptCommand, async ({ commandId, why }) => {
      await this.requireLogin(attachment);
      this.logger.info({ commandId }, `asked to interrupt current command: ${why}`);
      const record = attachment.commands.get(commandId);
      if (record === undefined) {
        // A race with completion, as Buildbot notes: not an error.
        this.logger.info({ commandId }, ' .. but none was running');
        return {};
      }
      record.running.interrupt(why);
      return {};
    });
    // ampstate extension: bytes for a command's input (a trial worker's fd 3); answered once written.
    table.on(CommandInput, async ({ commandId, data }) => {
      await this.requireLogin(attachment);
      const record = attachment.commands.get(commandId);
      if (record === undefined) throw new UnknownCommandIdError(`no command with id '${commandId}' is running`);
      if (record.running.input === undefined) throw new CommandRejectedError(`command ${record.commandName} [id ${commandId}] takes no input`);
      await record.running.input(data);
      return {};
    });
    table.on(Shutdown, async () => {
      await this.requireLogin(attachment);
      this.logger.info('worker shutting down on command from master');
      this.notices.next({ type: 'shutdownRequested' });
      // Answer first; the master learns of the shutdown from the answer or from the lost connection.
      this.clock.setTimeout(() => void this.stop('shutdown'), this.options.shutdownDelayMs ?? SHUTDOWN_DELAY_MS);
      return {};
    });
    return table;
  }

  /**
   * The master sends nothing before its Login answer, but the boxes that follow that answer may be
   * parsed before our Login call resumes, so a pending login is waited for rather than refused.
   */
  private async requireLogin(attachment: Attachment): Promise<void> {
    await attachment.loginSettled;
    if (this.current !== attachment || !this.actor.getSnapshot().matches('attached')) throw new NotAuthenticatedError('Worker not authenticated.');
  }

  private applySettings(settings: OutputBufferOptions): void {
    const requested = settings.bufferSize ?? AMP_OUTPUT_BUFFER_SIZE;
    const options: OutputBufferOptions = { ...settings, bufferSize: Math.min(requested, AMP_OUTPUT_BUFFER_SIZE) };
    if (requested > AMP_OUTPUT_BUFFER_SIZE) {
      this.logger.info({ requested, used: AMP_OUTPUT_BUFFER_SIZE }, 'buffer size capped so that each update fits one AMP value');
    }
    try {
      // Checks the size and compiles the pattern now, rather than failing the next command's start.
      new OutputBuffer(() => undefined, options);
    } catch (error) {
      // SetWorkerSettings declares no error a master could act on; keep the working settings.
      this.logger.error({ err: error, settings }, 'ignoring invalid worker settings from master');
      return;
    }
    this.outputOptions = options;
  }

  /** PB's remote_setBuilderList: one `<basedir>/<builddir>` per builder; the names set up are returned. */
  private async setBuilderList(builders: unknown): Promise<string[]> {
    const basedir = this.options.basedir;
    const wanted = new Map<string, string>();
    for (const entry of Array.isArray(builders) ? builders : []) {
      if (Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'string') wanted.set(entry[0], entry[1]);
      else this.logger.warn({ entry }, 'ignoring malformed builder entry');
    }
    const names: string[] = [];
    for (const [name, builddir] of wanted) {
      const previous = this.builders.get(name);
      if (previous !== undefined && previous !== builddir) {
        this.logger.info(`changing builddir for builder ${name} from ${previous} to ${builddir}`);
      }
      try {
        await mkdir(resolve(basedir, builddir), { recursive: true });
      } catch (error) {
        this.logger.error({ err: error, builder: name, builddir }, `cannot create the directory of builder ${name}`);
        continue;
      }
      names.push(name);
    }
    this.builders = new Map(names.map((name) => [name, wanted.get(name) as string]));
    await this.reportLeftoverDirs(new Set(wanted.values()));
    return names;
  }

  private async reportLeftoverDirs(wantedDirs: ReadonlySet<string>): Promise<void> {
    let entries;
    try {
      entries = await readdir(this.options.basedir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name === 'info' || wantedDirs.has(entry.name)) continue;
      this.logger.info(`I have a leftover directory '${entry.name}' that is not being used by the buildmaster: you can delete it now`);
    }
  }

  private startCommand(attachment: Attachment, commandId: string, commandName: string, args: Record<string, unknown>): {} {
    const connection = attachment.connection as AmpConnection;
    if (attachment.commands.has(commandId)) {
      throw new CommandRejectedError(`command id '${commandId}' is already running`);
    }
    const logger = this.logger.child({ commandId, command: commandName });
    const transferWindow = this.actor.getSnapshot().context.transferWindow ?? 1;
    const channel = new AmpCommandChannel(connection, commandId, { transferWindow, logger });
    let running: RunningCommand;
    try {
      running = startCommand(commandName, isRecord(args) ? args : {}, channel, {
        basedir: this.options.basedir,
        environ: this.environ,
        logger,
        output: this.outputOptions,
        processGroups: this.options.processGroups,
      });
    } catch (error) {
      logger.info({ err: error }, 'command rejected');
      throw new CommandRejectedError(error instanceof Error ? error.message : String(error));
    }
    const record: CommandRecord = { commandId, commandName, running, channel, killed: false };
    attachment.commands.set(commandId, record);
    logger.info(` startCommand:${commandName} [id ${commandId}]`);
    this.notices.next({ type: 'commandStarted', commandId, commandName });
    // The answer to StartCommand is written in the microtasks after this returns; the command's
    // own boxes go out after it.
    setImmediate(() => channel.release());
    running.done.then(
      () => this.finish(attachment, record, undefined),
      (error: unknown) => this.finish(attachment, record, error ?? new Error('command failed')),
    );
    return {};
  }

  private finish(attachment: Attachment, record: CommandRecord, error: unknown): void {
    attachment.commands.delete(record.commandId);
    const failure = error === undefined ? undefined : error instanceof Error ? error.message : String(error);
    if (record.killed) {
      this.logger.info({ commandId: record.commandId }, `command ${record.commandName} [id ${record.commandId}] ended after its connection was lost`);
    } else {
      if (failure !== undefined) this.logger.info({ commandId: record.commandId, failure }, 'command failed');
      record.channel.complete(error);
    }
    this.notices.next({ type: 'commandFinished', commandId: record.commandId, failure, killed: record.killed });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
