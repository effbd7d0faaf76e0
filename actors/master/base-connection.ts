/**
 * What every master-side Connection shares, whatever its transport: the handshake after login
 * (docs/master-worker-protocol.md §1.1), the keepalive with a reply deadline, the builder list, path resolution (§3.1), the
 * Impl/Proxy split and the command-id tables that route the worker's callbacks, and the
 * attaching → attached → detaching → detached machine. A transport supplies the worker's op set
 * ({@link WorkerOps}), a way to abort, and calls {@link BaseConnection.transportClosed} once.
 */
import { createActor, type Actor } from 'xstate';
import type { AmpBox } from '../../codec/box.js';
import { ConnectionDoneError, ConnectionLostError, UnhandledCommandError } from '../../codec/errors.js';
import { AMP_OUTPUT_BUFFER_SIZE, type UpdateEntry, type WorkerInfo } from '../../codec/protocols/worker-commands.js';
import { UnknownCommandIdError } from '../../codec/protocols/worker-errors.js';
import { masterConnectionMachine, type MasterConnectionEvent } from '../../machines/master-connection.js';
import type { Inspector } from '../amp-connection.js';
import { withDeadline } from '../deadline.js';
import { defaultLogger, type Logger } from '../logger.js';
import { sendIfActive } from '../send-if-active.js';
import type {
  BuilderList,
  Connection,
  ConnectionState,
  MasterOps,
  ProxyTable,
  RemoteCommandImpl,
  Subscription,
  WorkerOps,
  WorkerSettings,
} from './connection-api.js';
import {
  DuplicateCommandIdError,
  KeepaliveTimeoutError,
  UnknownBuilderError,
  WorkerDisconnectedError,
  WorkerInfoMissingError,
} from './errors.js';
import { resolveCommandArgs } from './paths.js';
import { writeUploadBlock } from './leased-upload-block.js';
import { COMMAND_ID_PROXIES, createArgsProxies, FileReaderProxy, FileWriterProxy } from './proxies.js';
import { inspectorFromEnvironment } from '../pino-inspector.js';
import { BoundEffects } from '../bound-effects.js';

export const DEFAULT_KEEPALIVE_INTERVAL_MS = 60_000;
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 30_000;

/**
 * Buildbot's output settings with the buffer cut to fit AMP's 64 KiB values. The newline pattern
 * is Buildbot's default, in Python syntax as `set_worker_settings` carries it.
 */
export const DEFAULT_WORKER_SETTINGS: WorkerSettings = {
  bufferSize: AMP_OUTPUT_BUFFER_SIZE,
  bufferTimeout: 5,
  newlineRe: '(\\r\\n|\\r(?=.)|\\x1b\\[u|\\x1b\\[[0-9]+;[0-9]+[Hf]|\\x1b\\[2J|\\x08+)',
  maxLineLength: 4096,
};

export interface BaseConnectionOptions {
  /** The worker's name. */
  readonly name: string;
  readonly logger?: Logger;
  readonly inspect?: Inspector;
  /** How often to send a keepalive once attached; 0 turns it off. Default 60 s. */
  readonly keepaliveIntervalMs?: number;
  /** How long a keepalive may go unanswered before the worker is dropped. Default 30 s. */
  readonly keepaliveTimeoutMs?: number;
  /** Sent during the handshake, each builder then greeted with a print "attached". */
  readonly builders?: BuilderList;
  /** Sent during the handshake, before any command; null sends none. */
  readonly workerSettings?: WorkerSettings | null;
  /** Refuse command paths that resolve outside the builder directory. */
  readonly confinePaths?: boolean;
}

interface CommandEntry {
  readonly command: RemoteCommandImpl;
  writer?: FileWriterProxy;
  reader?: FileReaderProxy;
}

/** What the master connection machine asks its connection to do. */
interface MasterConnectionEffects {
  startKeepalive(): void;
  stopKeepalive(): void;
  abortTransport(): void;
  announceDetached(): void;
}

/** Provided once for every worker connection (see BoundEffects: 10,000 workers would rebuild it 10,000 times). */
const connectionEffects = new BoundEffects<MasterConnectionEffects>('master connection');
const providedMasterConnectionMachine = () =>
  connectionEffects.provideOnce(masterConnectionMachine, (logic) =>
    logic.provide({
      actions: {
        startKeepalive: ({ self }) => connectionEffects.of(self).startKeepalive(),
        stopKeepalive: ({ self }) => connectionEffects.of(self).stopKeepalive(),
        abortTransport: ({ self }) => connectionEffects.of(self).abortTransport(),
        announceDetached: ({ self }) => connectionEffects.of(self).announceDetached(),
      },
    }),
  );

/** Errors that mean "the connection is gone" rather than "the worker said no". */
export function isConnectionGone(error: unknown): boolean {
  return error instanceof ConnectionDoneError || error instanceof ConnectionLostError || error instanceof WorkerDisconnectedError;
}


export abstract class BaseConnection implements Connection, MasterOps {
  readonly name: string;
  readonly proxies: ProxyTable = COMMAND_ID_PROXIES;
  readonly logger: Logger;
  /** The masterConnection machine, for inspection. */
  readonly machine: Actor<typeof masterConnectionMachine>;
  /** Resolves with the reason once the connection is detached. */
  readonly detached: Promise<Error>;

  protected abstract readonly worker: WorkerOps;

  private infoValue: WorkerInfo | undefined;
  private readonly keepaliveIntervalMs: number;
  private readonly keepaliveTimeoutMs: number;
  private readonly handshakeBuilders: BuilderList | undefined;
  private readonly workerSettings: WorkerSettings | null;
  private readonly confinePaths: boolean;
  private readonly builderDirs = new Map<string, string>();
  private lastBuilderList: { key: string; result: string[] } | undefined;
  private readonly commands = new Map<string, CommandEntry>();
  private readonly disconnectCallbacks = new Set<(reason: Error) => void>();
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private keepaliveInFlight = false;
  private dropReason: Error | undefined;
  private transportReason: Error | undefined;
  private detachReason: Error | undefined;
  private resolveDetached!: (reason: Error) => void;

  protected constructor(options: BaseConnectionOptions) {
    this.name = options.name;
    this.logger = (options.logger ?? defaultLogger).child({ worker: options.name });
    this.keepaliveIntervalMs = options.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS;
    this.keepaliveTimeoutMs = options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS;
    this.handshakeBuilders = options.builders;
    this.workerSettings = options.workerSettings === undefined ? DEFAULT_WORKER_SETTINGS : options.workerSettings;
    this.confinePaths = options.confinePaths ?? false;
    this.detached = new Promise((resolve) => (this.resolveDetached = resolve));
    const actor = createActor(providedMasterConnectionMachine(), { inspect: options.inspect ?? inspectorFromEnvironment() });
    this.machine = connectionEffects
      .bind(actor, {
        startKeepalive: () => this.startKeepalive(),
        stopKeepalive: () => this.stopKeepalive(),
        abortTransport: () => this.abortTransport(this.dropReason ?? new ConnectionLostError('connection dropped by the master')),
        announceDetached: () => this.announceDetached(),
      })
      .start();
  }

  /** Hard-closes the transport; it must then report its close through `transportClosed`. */
  protected abstract abortTransport(reason: Error): void;

  get info(): WorkerInfo | undefined {
    return this.infoValue;
  }

  get state(): ConnectionState {
    return this.machine.getSnapshot().value as ConnectionState;
  }

  /** The builder names and dirs given by the last remoteSetBuilderList. */
  get builders(): ReadonlyMap<string, string> {
    return this.builderDirs;
  }

  /**
   * The handshake after login (docs/master-worker-protocol.md §1.1): print "attached", get the worker info, send the output
   * settings and, if configured, the builder list with one print "attached" per builder present.
   * Any failure drops the connection.
   */
  async attach(): Promise<void> {
    try {
      await this.remotePrint('attached');
      await this.remoteGetWorkerInfo();
      if (this.workerSettings !== null) await this.sendWorkerSettings(this.workerSettings);
      if (this.handshakeBuilders !== undefined) {
        const present = await this.remoteSetBuilderList(this.handshakeBuilders);
        for (const _builder of present) await this.remotePrint('attached');
      }
    } catch (error) {
      if (this.can({ type: 'handshakeFailed', reason: '' })) {
        this.dropReason = error as Error;
        this.logger.warn({ err: error }, 'handshake failed; dropping the worker');
        this.send({ type: 'handshakeFailed', reason: (error as Error).message });
      }
      throw error;
    }
    if (!this.can({ type: 'handshakeDone' })) throw this.detachReason ?? new WorkerDisconnectedError(this.name);
    this.send({ type: 'handshakeDone' });
    this.logger.info('worker attached');
  }

  /** Optional in the protocol (docs/master-worker-protocol.md §5): a worker without it keeps its defaults. */
  private async sendWorkerSettings(settings: WorkerSettings): Promise<void> {
    try {
      await this.worker.setWorkerSettings(settings);
    } catch (error) {
      if (!(error instanceof UnhandledCommandError)) throw error;
      this.logger.warn('the worker does not take output settings; it keeps its own');
    }
  }

  // ---------------------------------------------------------------- the Connection API

  createArgsProxies(args: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return createArgsProxies(args, this.proxies);
  }

  notifyOnDisconnect(cb: (reason: Error) => void): Subscription {
    if (this.detachReason !== undefined) {
      // Subscribing too late must not leave the caller waiting forever.
      const reason = this.detachReason;
      let cancelled = false;
      queueMicrotask(() => {
        if (!cancelled) cb(reason);
      });
      return { unsubscribe: () => (cancelled = true) };
    }
    const once = (reason: Error) => cb(reason);
    this.disconnectCallbacks.add(once);
    return { unsubscribe: () => this.disconnectCallbacks.delete(once) };
  }

  loseConnection(reason: Error = new ConnectionLostError('connection dropped by the master')): void {
    if (!this.can({ type: 'loseRequested', reason: reason.message })) return;
    this.dropReason = reason;
    this.send({ type: 'loseRequested', reason: reason.message });
  }

  remotePrint(message: string): Promise<void> {
    return this.worker.print(message);
  }

  async remoteGetWorkerInfo(): Promise<WorkerInfo> {
    const info = await this.worker.getWorkerInfo();
    this.infoValue = info;
    return info;
  }

  async remoteSetBuilderList(builders: BuilderList): Promise<string[]> {
    const key = JSON.stringify(builders);
    // Buildbot skips the call when the list did not change since the last one.
    if (this.lastBuilderList?.key === key) return [...this.lastBuilderList.result];
    const result = await this.worker.setBuilderList(builders.map(([name, dir]) => [name, dir] as const));
    this.builderDirs.clear();
    for (const [name, builddir] of builders) this.builderDirs.set(name, builddir);
    this.lastBuilderList = { key, result: [...result] };
    return result;
  }

  async remoteStartCommand(
    remoteCommand: RemoteCommandImpl,
    builderName: string,
    commandId: string,
    commandName: string,
    args: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    if (this.detachReason !== undefined) throw new WorkerDisconnectedError(this.name, { cause: this.detachReason });
    const info = this.infoValue;
    if (info === undefined) throw new WorkerInfoMissingError(this.name);
    const builddir = this.builderDirs.get(builderName);
    if (builddir === undefined) throw new UnknownBuilderError(this.name, builderName);
    if (this.commands.has(commandId)) throw new DuplicateCommandIdError(commandId);

    const entry: CommandEntry = { command: remoteCommand };
    const plain: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(this.createArgsProxies(args))) {
      if (value instanceof FileWriterProxy) entry.writer = value;
      else if (value instanceof FileReaderProxy) entry.reader = value;
      else plain[key] = value;
    }
    const resolved = resolveCommandArgs(commandName, plain, {
      basedir: typeof info.basedir === 'string' ? info.basedir : '',
      builddir,
      system: typeof info.system === 'string' ? info.system : undefined,
      environ: (info.environ ?? {}) as Record<string, unknown>,
      confine: this.confinePaths,
    });
    // Registered before the call: a fast worker's first update may overtake the start answer.
    this.commands.set(commandId, entry);
    try {
      await this.worker.startCommand(builderName, commandId, resolved.commandName, resolved.args);
    } catch (error) {
      if (this.commands.get(commandId) === entry) this.commands.delete(commandId);
      throw error;
    }
  }

  async remoteShutdown(): Promise<void> {
    try {
      await this.worker.shutdown();
    } catch (error) {
      // The worker may exit before its answer gets out; that is what was asked for.
      if (!isConnectionGone(error)) throw error;
    }
  }

  async remoteStartBuild(_builderName: string): Promise<void> {
    // Nothing to send: PB calls a no-op on the worker, msgpack sends nothing.
  }

  remoteInterruptCommand(builderName: string, commandId: string, why: string): Promise<void> {
    return this.worker.interruptCommand(builderName, commandId, why);
  }

  // ---------------------------------------------------------------- the worker's calls (MasterOps)

  async update(commandId: string, updates: readonly UpdateEntry[]): Promise<void> {
    const entry = this.entryFor(commandId);
    try {
      await entry.command.remoteUpdate(updates);
    } catch (error) {
      // A master-side bug must not be blamed on the worker (or drop it).
      this.logger.error({ err: error, commandId }, 'remote command update handler failed');
    }
  }

  async complete(commandId: string, failure: string | undefined): Promise<void> {
    const entry = this.entryFor(commandId);
    this.commands.delete(commandId);
    try {
      await entry.command.remoteComplete(failure);
    } catch (error) {
      this.logger.error({ err: error, commandId }, 'remote command complete handler failed');
    }
  }

  /** `box`: the AMP box `data` came in, when the block may be written from its read slab (see writeUploadBlock). */
  uploadWrite(commandId: string, data: Buffer, box?: AmpBox): Promise<void> {
    return writeUploadBlock(this.writerFor(commandId), data, box);
  }

  uploadUtime(commandId: string, accessTime: number, modifiedTime: number): Promise<void> {
    return this.writerFor(commandId).utime(accessTime, modifiedTime);
  }

  uploadUnpack(commandId: string): Promise<void> {
    return this.writerFor(commandId).unpack();
  }

  uploadClose(commandId: string): Promise<void> {
    return this.writerFor(commandId).close();
  }

  downloadRead(commandId: string, length: number): Promise<Buffer> {
    return this.readerFor(commandId).read(length);
  }

  downloadClose(commandId: string): Promise<void> {
    return this.readerFor(commandId).close();
  }

  // ---------------------------------------------------------------- transport hooks

  /** The transport is gone (whoever closed it). Idempotent. */
  protected transportClosed(reason: Error): void {
    if (this.detachReason !== undefined) return;
    this.transportReason ??= reason;
    this.send({ type: 'transportClosed', reason: reason.message });
  }

  /** The reason a close is reported with: ours if we dropped the worker, else the transport's. */
  private closeReason(): Error {
    return this.dropReason ?? this.transportReason ?? new ConnectionLostError('connection lost');
  }

  // ---------------------------------------------------------------- internals

  private entryFor(commandId: string): CommandEntry {
    const entry = this.commands.get(commandId);
    if (entry === undefined) throw new UnknownCommandIdError(`unknown "command_id" '${commandId}'`);
    return entry;
  }

  private writerFor(commandId: string): FileWriterProxy {
    const writer = this.commands.get(commandId)?.writer;
    if (writer === undefined) throw new UnknownCommandIdError(`no file writer for command id '${commandId}'`);
    return writer;
  }

  private readerFor(commandId: string): FileReaderProxy {
    const reader = this.commands.get(commandId)?.reader;
    if (reader === undefined) throw new UnknownCommandIdError(`no file reader for command id '${commandId}'`);
    return reader;
  }

  private send(event: MasterConnectionEvent): void {
    sendIfActive(this.machine, event);
  }

  /** Whether the machine takes `event` now: the one place the actor asks before it acts. */
  private can(event: MasterConnectionEvent): boolean {
    return this.machine.getSnapshot().can(event);
  }

  private startKeepalive(): void {
    if (this.keepaliveIntervalMs <= 0) return;
    this.keepaliveTimer = setInterval(() => this.sendKeepalive(), this.keepaliveIntervalMs);
    this.keepaliveTimer.unref?.();
  }

  private stopKeepalive(): void {
    if (this.keepaliveTimer !== undefined) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }

  private sendKeepalive(): void {
    // One at a time: the deadline of the outstanding one is what decides.
    if (this.keepaliveInFlight) return;
    this.keepaliveInFlight = true;
    const timeoutMs = this.keepaliveTimeoutMs;
    withDeadline(this.worker.keepalive(), timeoutMs, () => new KeepaliveTimeoutError(this.name, timeoutMs)).then(
      () => (this.keepaliveInFlight = false),
      (error: unknown) => {
        this.keepaliveInFlight = false;
        if (!this.can({ type: 'keepaliveMissed', reason: '' })) return;
        const reason = error instanceof KeepaliveTimeoutError ? error : new KeepaliveTimeoutError(this.name, timeoutMs);
        if (!(error instanceof KeepaliveTimeoutError)) reason.cause = error;
        this.logger.warn({ err: error }, 'keepalive failed; dropping the worker');
        this.dropReason = reason;
        this.send({ type: 'keepaliveMissed', reason: reason.message });
      },
    );
  }

  private announceDetached(): void {
    const reason = this.closeReason();
    this.detachReason = reason;
    this.stopKeepalive();
    this.commands.clear();
    const callbacks = [...this.disconnectCallbacks];
    this.disconnectCallbacks.clear();
    this.logger.info({ reason: reason.message }, 'worker detached');
    for (const callback of callbacks) {
      try {
        callback(reason);
      } catch (error) {
        this.logger.error({ err: error }, 'disconnect callback failed');
      }
    }
    this.resolveDetached(reason);
  }
}
