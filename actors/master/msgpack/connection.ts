/**
 * The master's Connection to a stock Buildbot worker over `msgpack_experimental_v7` (docs/master-worker-protocol.md §5).
 * Everything above the wire is {@link BaseConnection}'s, shared with AMP: the handshake, path
 * resolution (§3.1), the command-id tables, the keepalive deadline, the attach/detach machine.
 * What is msgpack's own:
 *
 * - master → worker calls are requests on a {@link MsgpackPeer}; a refused `start_command` becomes
 *   a CommandRejectedError with the worker's text;
 * - remoteSetBuilderList makes the directories with listdir/stat/rmdir/mkdir (the worker has no
 *   builders);
 * - the worker's output triples are reduced to their text, and upload blocks must be `bin`;
 * - the keepalive is the `keepalive` op *and* a WebSocket ping, both under the deadline: the op
 *   shows the worker's reactor is alive, the ping that the path is;
 * - the worker does not kill its commands when the connection drops (3.7 keeps them running), so
 *   the ids of commands running at the drop are kept for {@link MsgpackConnection.reapOrphans};
 * - 3.7 crashes in its shutdown while commands run and leaves them orphaned, so remoteShutdown
 *   interrupts running commands first and waits (briefly) for them to complete.
 */
import { CommandRejectedError, TransferError } from '../../../codec/protocols/worker-errors.js';
import { withDeadline } from '../../deadline.js';
import { BaseConnection, type BaseConnectionOptions } from '../base-connection.js';
import type { RemoteCommandImpl, WorkerInfo, WorkerOps } from '../connection-api.js';
import { nextCommandId } from '../remote-command.js';
import { makeBuilderDirectories } from './builder-dirs.js';
import type { MsgpackRequest } from './codec.js';
import { WorkerInfoMissingError } from '../errors.js';
import { MalformedRequestError, MsgpackRemoteError } from './errors.js';
import { InternalCommand, type InternalCommandResult } from './internal-command.js';
import type { MsgpackPeer } from './peer.js';
import { updatesFromWire } from './updates.js';

/** The largest block the master sends for one `update_read_file`, whatever length is asked for. */
export const MAX_READ_LENGTH = 16 * 1024 * 1024;
/** How long reaping one orphaned command may take before the master gives up on it. */
export const DEFAULT_REAP_TIMEOUT_MS = 10_000;
/** How long remoteShutdown waits for interrupted commands to complete before it shuts down. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

export interface MsgpackConnectionOptions extends BaseConnectionOptions {
  /** Interrupt running commands before `shutdown` (works around 3.7's stopService crash). Default true. */
  readonly interruptBeforeShutdown?: boolean;
  readonly shutdownGraceMs?: number;
}

/** A command the worker runs for us, as far as the master knows. */
export interface RunningCommandRef {
  readonly commandId: string;
  readonly builderName: string;
}

interface RunningEntry extends RunningCommandRef {
  readonly completed: Promise<void>;
  markCompleted(): void;
}

function required(request: MsgpackRequest, ...keys: string[]): void {
  for (const key of keys) {
    // Buildbot's wording, which a worker may log.
    if (!(key in request)) throw new MalformedRequestError(`message did not contain obligatory "${key}" key`);
  }
}

function commandIdOf(request: MsgpackRequest): string {
  required(request, 'command_id');
  const id = request.command_id;
  if (typeof id === 'string') return id;
  if (typeof id === 'number') return String(id);
  throw new MalformedRequestError('"command_id" must be a string');
}

function bytesOf(request: MsgpackRequest): Buffer {
  required(request, 'args');
  if (Buffer.isBuffer(request.args)) return request.args;
  // Text here would be a worker bug: blocks are bytes, and a str would corrupt binary files.
  throw new TransferError(`"args" of ${request.op} must be msgpack bin, not ${typeof request.args}`);
}

function numberOf(request: MsgpackRequest, key: string): number {
  required(request, key);
  const value = request[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new MalformedRequestError(`"${key}" must be a number`);
  return value;
}

/** Any `bin` in the info is taken as UTF-8 text, as Buildbot's master decodes it. */
function textified(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (Array.isArray(value)) return value.map(textified);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, textified(item)]));
  }
  return value;
}

export class MsgpackConnection extends BaseConnection {
  readonly peer: MsgpackPeer;
  protected readonly worker: WorkerOps;
  private readonly internal = new Map<string, InternalCommand>();
  private readonly running = new Map<string, RunningEntry>();
  private readonly interruptBeforeShutdown: boolean;
  private readonly shutdownGraceMs: number;

  constructor(peer: MsgpackPeer, options: MsgpackConnectionOptions) {
    super(options);
    this.peer = peer;
    this.interruptBeforeShutdown = options.interruptBeforeShutdown ?? true;
    this.shutdownGraceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
    const call = async (op: string, fields: Record<string, unknown> = {}) => void (await peer.request(op, fields));
    this.worker = {
      print: (message) => call('print', { message }),
      keepalive: async () => void (await Promise.all([call('keepalive'), peer.ping()])),
      getWorkerInfo: async () => {
        const info = textified(await peer.request('get_worker_info'));
        if (info === null || typeof info !== 'object' || Array.isArray(info)) throw new MalformedRequestError('get_worker_info was not answered with a map');
        return info as WorkerInfo;
      },
      setWorkerSettings: (settings) =>
        call('set_worker_settings', {
          args: {
            buffer_size: settings.bufferSize,
            buffer_timeout: settings.bufferTimeout,
            newline_re: settings.newlineRe,
            max_line_length: settings.maxLineLength,
          },
        }),
      setBuilderList: async (builders) => {
        const info = this.info;
        // The dirs are joined onto the worker's basedir, which only the info tells.
        if (info === undefined) throw new WorkerInfoMissingError(this.name);
        const context = {
          basedir: typeof info.basedir === 'string' ? info.basedir : '',
          system: typeof info.system === 'string' ? info.system : undefined,
          // A bool, or int 0 from a default buildbot.tac.
          deleteLeftoverDirs: Boolean(info.delete_leftover_dirs),
          workerName: this.name,
          logger: this.logger,
        };
        return makeBuilderDirectories((name, args) => this.runInternal(name, args), context, builders);
      },
      startCommand: async (builderName, commandId, commandName, args) => {
        try {
          // builder_name is Buildbot's; the worker ignores it.
          await peer.request('start_command', { builder_name: builderName, command_id: commandId, command_name: commandName, args });
        } catch (error) {
          if (error instanceof MsgpackRemoteError) throw new CommandRejectedError(error.remoteMessage, { cause: error });
          throw error;
        }
      },
      interruptCommand: (builderName, commandId, why) => call('interrupt_command', { builder_name: builderName, command_id: commandId, why }),
      shutdown: () => call('shutdown'),
    };
    this.installHandlers();
    void peer.closed.then((reason) => this.transportClosed(reason));
  }

  /** The commands the worker runs for us now (started, not completed). */
  get runningCommands(): RunningCommandRef[] {
    return [...this.running.values()].map(({ commandId, builderName }) => ({ commandId, builderName }));
  }

  protected abortTransport(reason: Error): void {
    this.peer.abort(reason);
  }

  override async remoteStartCommand(
    remoteCommand: RemoteCommandImpl,
    builderName: string,
    commandId: string,
    commandName: string,
    args: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    // Recorded before the request: a fast worker may complete before its start is answered.
    let markCompleted!: () => void;
    const completed = new Promise<void>((resolve) => (markCompleted = resolve));
    const entry: RunningEntry = { commandId, builderName, completed, markCompleted };
    const previous = this.running.get(commandId);
    this.running.set(commandId, entry);
    try {
      await super.remoteStartCommand(remoteCommand, builderName, commandId, commandName, args);
    } catch (error) {
      if (this.running.get(commandId) === entry) {
        if (previous === undefined) this.running.delete(commandId);
        else this.running.set(commandId, previous);
      }
      throw error;
    }
  }

  /**
   * Interrupts commands a previous connection of this worker left running: a msgpack worker keeps
   * them going after a drop, and still knows them by id once it is back. An unknown id is answered
   * with success, so reaping commands that already ended is harmless. Never rejects.
   */
  async reapOrphans(orphans: readonly RunningCommandRef[], timeoutMs = DEFAULT_REAP_TIMEOUT_MS): Promise<void> {
    for (const { commandId, builderName } of orphans) {
      try {
        // Bounded: the listener waits for this before it announces the worker as attached.
        await withDeadline(
          this.remoteInterruptCommand(builderName, commandId, 'the master lost the connection while this command ran'),
          timeoutMs,
          () => new Error(`no answer to interrupt_command within ${timeoutMs} ms`),
        );
        this.logger.info({ commandId }, 'asked the worker to kill a command orphaned by the last disconnect');
      } catch (error) {
        this.logger.warn({ err: error, commandId }, 'could not reap an orphaned command');
      }
    }
  }

  override async remoteShutdown(): Promise<void> {
    const running = [...this.running.values()];
    if (this.interruptBeforeShutdown && running.length > 0) {
      this.logger.info({ commands: running.length }, 'interrupting running commands before the shutdown');
      await Promise.allSettled(running.map((entry) => this.remoteInterruptCommand(entry.builderName, entry.commandId, 'worker shutdown')));
      await withDeadline(
        // A worker that goes away meanwhile need not be waited for.
        Promise.race([Promise.all(running.map((entry) => entry.completed)), this.detached]),
        this.shutdownGraceMs,
        () => new Error('interrupted commands did not complete in time'),
      ).catch((error: unknown) => this.logger.warn({ err: error }, 'shutting down with commands still running'));
    }
    await super.remoteShutdown();
  }

  // ---------------------------------------------------------------- internals

  private async runInternal(commandName: string, args: Record<string, unknown>): Promise<InternalCommandResult> {
    const commandId = nextCommandId();
    const command = new InternalCommand(commandName);
    this.internal.set(commandId, command);
    try {
      // No builder_name: the command belongs to no builder (as Buildbot sends it).
      await this.peer.request('start_command', { command_id: commandId, command_name: commandName, args });
      return await Promise.race([command.done, this.peer.closed.then((reason) => Promise.reject(reason))]);
    } catch (error) {
      if (error instanceof MsgpackRemoteError) throw new CommandRejectedError(error.remoteMessage, { cause: error });
      throw error;
    } finally {
      this.internal.delete(commandId);
    }
  }

  /** The worker's calls, keyed by command id. Replaces the listener's "not authenticated" answers. */
  private installHandlers(): void {
    const peer = this.peer;
    peer.handleOthers(undefined);
    peer
      .handle('update', (request) => {
        const commandId = commandIdOf(request);
        required(request, 'args');
        const updates = updatesFromWire(request.args);
        const internal = this.internal.get(commandId);
        if (internal !== undefined) return internal.remoteUpdate(updates);
        return this.update(commandId, updates);
      })
      .handle('complete', (request) => {
        const commandId = commandIdOf(request);
        required(request, 'args');
        const failure = request.args === null || request.args === undefined ? undefined : String(request.args);
        const internal = this.internal.get(commandId);
        if (internal !== undefined) return internal.remoteComplete(failure);
        const running = this.running.get(commandId);
        const done = this.complete(commandId, failure);
        this.running.delete(commandId);
        running?.markCompleted();
        return done;
      })
      .handle('update_upload_file_write', (request) => this.uploadWrite(commandIdOf(request), bytesOf(request)))
      .handle('update_upload_directory_write', (request) => this.uploadWrite(commandIdOf(request), bytesOf(request)))
      .handle('update_upload_file_close', (request) => this.uploadClose(commandIdOf(request)))
      .handle('update_upload_file_utime', (request) =>
        this.uploadUtime(commandIdOf(request), numberOf(request, 'access_time'), numberOf(request, 'modified_time')),
      )
      .handle('update_upload_directory_unpack', (request) => this.uploadUnpack(commandIdOf(request)))
      .handle('update_read_file', async (request) => {
        const length = numberOf(request, 'length');
        // The reply must be bin: the worker writes it to the file as it is.
        return await this.downloadRead(commandIdOf(request), Math.max(0, Math.min(Math.floor(length), MAX_READ_LENGTH)));
      })
      .handle('update_read_file_close', (request) => this.downloadClose(commandIdOf(request)));
  }
}
