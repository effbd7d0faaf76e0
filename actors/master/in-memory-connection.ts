/**
 * A Connection to a worker in the same process (Buildbot's "null" protocol): the op sets are
 * called directly, with no serialisation. It behaves like the wire ones where the contract says so:
 * calls are asynchronous, a dropped link rejects every pending and later call, the worker's
 * callbacks stop working once detached, and the worker learns of the drop.
 *
 * The worker side gets {@link InMemoryConnection.master} to call back with, and may end the link
 * from its end with {@link InMemoryConnection.disconnect}.
 */
import { ConnectionDoneError, ConnectionLostError } from '../../codec/errors.js';
import { BaseConnection, type BaseConnectionOptions } from './base-connection.js';
import type { MasterOps, WorkerOps } from './connection-api.js';

export interface InMemoryConnectionOptions extends BaseConnectionOptions {
  /** Told when the link goes down, whichever end dropped it. */
  readonly onDisconnect?: (reason: Error) => void;
}

export class InMemoryConnection extends BaseConnection {
  protected readonly worker: WorkerOps;
  /** The master's op set, for the worker to call. */
  readonly master: MasterOps;
  private linkDownReason: Error | undefined;
  private readonly closeListeners = new Set<(reason: Error) => void>();
  private readonly onDisconnect: ((reason: Error) => void) | undefined;

  constructor(worker: WorkerOps, options: InMemoryConnectionOptions) {
    super(options);
    this.onDisconnect = options.onDisconnect;
    this.worker = this.guardWorker(worker);
    this.master = this.guardMaster();
  }

  /** Ends the link from the worker's end (as a transport that dropped). */
  disconnect(reason: Error = new ConnectionDoneError()): void {
    this.close(reason);
  }

  protected abortTransport(reason: Error): void {
    this.close(reason);
  }

  private close(reason: Error): void {
    if (this.linkDownReason !== undefined) return;
    this.linkDownReason = reason;
    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    for (const listener of listeners) listener(reason);
    // Asynchronous like a real transport: the close is seen after the current call stack.
    queueMicrotask(() => {
      this.transportClosed(reason);
      this.onDisconnect?.(reason);
    });
  }

  /** Runs a call unless the link is down, and fails it if the link goes down before it settles. */
  private call<T>(work: () => Promise<T>): Promise<T> {
    if (this.linkDownReason !== undefined) return Promise.reject(this.linkDownReason);
    return new Promise<T>((resolve, reject) => {
      const onClose = (reason: Error) => reject(reason);
      this.closeListeners.add(onClose);
      // A microtask hop, so no call completes synchronously (nor re-enters its caller).
      Promise.resolve()
        .then(work)
        .then(
          (value) => {
            this.closeListeners.delete(onClose);
            if (this.linkDownReason === undefined) resolve(value);
          },
          (error: unknown) => {
            this.closeListeners.delete(onClose);
            if (this.linkDownReason === undefined) reject(error);
          },
        );
    });
  }

  private guardWorker(worker: WorkerOps): WorkerOps {
    return {
      print: (message) => this.call(() => worker.print(message)),
      keepalive: () => this.call(() => worker.keepalive()),
      getWorkerInfo: () => this.call(() => worker.getWorkerInfo()),
      setWorkerSettings: (settings) => this.call(() => worker.setWorkerSettings(settings)),
      setBuilderList: (builders) => this.call(() => worker.setBuilderList(builders)),
      startCommand: (builderName, commandId, commandName, args) =>
        // A copy, as a wire would make: the worker must not see later changes to the master's object.
        this.call(() => worker.startCommand(builderName, commandId, commandName, structuredClone(args))),
      interruptCommand: (builderName, commandId, why) => this.call(() => worker.interruptCommand(builderName, commandId, why)),
      shutdown: () => this.call(() => worker.shutdown()),
    };
  }

  private guardMaster(): MasterOps {
    const gone = () => new ConnectionLostError('the in-memory link is down');
    const guarded =
      <A extends unknown[], T>(op: (...args: A) => Promise<T>) =>
      (...args: A): Promise<T> =>
        this.linkDownReason !== undefined ? Promise.reject(gone()) : this.call(() => op(...args));
    return {
      update: guarded((commandId: string, updates) => this.update(commandId, updates)),
      complete: guarded((commandId: string, failure: string | undefined) => this.complete(commandId, failure)),
      uploadWrite: guarded((commandId: string, data: Buffer) => this.uploadWrite(commandId, Buffer.from(data))),
      uploadUtime: guarded((commandId: string, accessTime: number, modifiedTime: number) => this.uploadUtime(commandId, accessTime, modifiedTime)),
      uploadUnpack: guarded((commandId: string) => this.uploadUnpack(commandId)),
      uploadClose: guarded((commandId: string) => this.uploadClose(commandId)),
      downloadRead: guarded((commandId: string, length: number) => this.downloadRead(commandId, length)),
      downloadClose: guarded((commandId: string) => this.downloadClose(commandId)),
    };
  }
}
