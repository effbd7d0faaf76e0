/**
 * The master's view of one connected worker, whatever carries it (Buildbot's
 * `buildbot.worker.protocols.base`): AMP here, an in-memory link for tests, msgpack over WebSocket
 * to drive stock Buildbot workers. Steps and builds talk to this interface only.
 *
 * The worker calls back into the master through objects that the master hands over in a command's
 * arguments: a RemoteCommandImpl (updates, complete), a FileWriterImpl (uploads) and a
 * FileReaderImpl (downloads). A protocol without remote references replaces them by proxies keyed
 * by command id (`proxies` / `createArgsProxies`); the worker then addresses them by that id.
 */
import type { UpdateEntry, WorkerInfo } from '../../codec/protocols/worker-commands.js';

export type { UpdateEntry, WorkerInfo };

/** `[builderName, builddir]` pairs, builddir relative to the worker's basedir. */
export type BuilderList = ReadonlyArray<readonly [name: string, builddir: string]>;

/** Buildbot's `util.subscriptions.Subscription`. */
export interface Subscription {
  unsubscribe(): void;
}

/** What a RemoteCommand implements: the worker's updates and its final complete. */
export abstract class RemoteCommandImpl {
  /** A batch of `[key, value]` updates (docs/master-worker-protocol.md §2.1), in the order the worker sent them. */
  abstract remoteUpdate(updates: readonly UpdateEntry[]): void | Promise<void>;
  /** Always the last call for a command; `failure` is the worker's failure text, if any. */
  abstract remoteComplete(failure: string | undefined): void | Promise<void>;
}

/** The master end of an upload (docs/master-worker-protocol.md §2.2). */
export abstract class FileWriterImpl {
  abstract remoteWrite(data: Buffer): Promise<void>;
  /** `[accessTime, modifiedTime]` in seconds; the worker sends it after close. */
  abstract remoteUtime(accessedModified: readonly [number, number]): Promise<void>;
  /** Directory uploads end with unpack instead of close. */
  abstract remoteUnpack(): Promise<void>;
  abstract remoteClose(): Promise<void>;
}

/** The master end of a download (docs/master-worker-protocol.md §2.3). */
export abstract class FileReaderImpl {
  /** At most `maxLength` bytes; an empty buffer means end of file. */
  abstract remoteRead(maxLength: number): Promise<Buffer>;
  abstract remoteClose(): Promise<void>;
}

export type ImplClass = abstract new (...args: any[]) => object;
export type ProxyClass = new (impl: any) => object;
/** Impl class → the Proxy class this protocol puts in its place. */
export type ProxyTable = ReadonlyMap<ImplClass, ProxyClass>;

export type ConnectionState = 'attaching' | 'attached' | 'detaching' | 'detached';

/**
 * The Connection API of the seed (every method async, as in Buildbot). Implementations must pass
 * the shared contract suite in `test/contract/connection-contract.ts`.
 */
export interface Connection {
  /** The worker's name. */
  readonly name: string;
  /** The `remoteGetWorkerInfo` result, once the handshake got it. */
  readonly info: WorkerInfo | undefined;
  readonly state: ConnectionState;
  readonly proxies: ProxyTable;
  /** A shallow copy of `args` with every Impl replaced by its Proxy. */
  createArgsProxies(args: Readonly<Record<string, unknown>>): Record<string, unknown>;
  /** `cb` fires once, with the reason, when the worker disconnects (at once if it already has). */
  notifyOnDisconnect(cb: (reason: Error) => void): Subscription;
  /** Hard-aborts the transport and stops the keepalive. */
  loseConnection(): void;
  /** Resolves once the worker has logged the message; also the ping. */
  remotePrint(message: string): Promise<void>;
  /** The info dict (docs/master-worker-protocol.md §1.3); also stored as `info`. */
  remoteGetWorkerInfo(): Promise<WorkerInfo>;
  /** The builder names now present on the worker; skipped if the list did not change. */
  remoteSetBuilderList(builders: BuilderList): Promise<string[]>;
  /**
   * Resolves when the command has started, not when it finishes. `args` are master-facing
   * (workdir, dir, workersrc…) and may hold Impl objects; paths are resolved here (docs/master-worker-protocol.md §3.1).
   */
  remoteStartCommand(
    remoteCommand: RemoteCommandImpl,
    builderName: string,
    commandId: string,
    commandName: string,
    args: Readonly<Record<string, unknown>>,
  ): Promise<void>;
  /** The worker exits; a connection lost on the way counts as success. */
  remoteShutdown(): Promise<void>;
  /** Nothing on the wire (as msgpack); kept for the API. */
  remoteStartBuild(builderName: string): Promise<void>;
  /** Resolves on delivery; the command's complete still follows. */
  remoteInterruptCommand(builderName: string, commandId: string, why: string): Promise<void>;
}

/** `set_worker_settings`: how the worker batches output (docs/master-worker-protocol.md §5). */
export interface WorkerSettings {
  readonly bufferSize: number;
  readonly bufferTimeout: number;
  readonly newlineRe: string;
  readonly maxLineLength: number;
}

/**
 * The master → worker op set as plain async calls (docs/master-worker-protocol.md §5–6). A Connection implementation is a
 * transport for these plus the reverse {@link MasterOps}.
 */
export interface WorkerOps {
  print(message: string): Promise<void>;
  keepalive(): Promise<void>;
  getWorkerInfo(): Promise<WorkerInfo>;
  setWorkerSettings(settings: WorkerSettings): Promise<void>;
  setBuilderList(builders: BuilderList): Promise<string[]>;
  /** `args` are canonical (resolved paths, snake_case transfer names). */
  startCommand(builderName: string, commandId: string, commandName: string, args: Record<string, unknown>): Promise<void>;
  interruptCommand(builderName: string, commandId: string, why: string): Promise<void>;
  shutdown(): Promise<void>;
}

/** The worker → master op set, every callback keyed by command id. */
export interface MasterOps {
  update(commandId: string, updates: readonly UpdateEntry[]): Promise<void>;
  complete(commandId: string, failure: string | undefined): Promise<void>;
  uploadWrite(commandId: string, data: Buffer): Promise<void>;
  uploadUtime(commandId: string, accessTime: number, modifiedTime: number): Promise<void>;
  uploadUnpack(commandId: string): Promise<void>;
  uploadClose(commandId: string): Promise<void>;
  downloadRead(commandId: string, length: number): Promise<Buffer>;
  downloadClose(commandId: string): Promise<void>;
}

/** The methods every Connection has, with their arities (the contract suite checks both). */
export const CONNECTION_METHODS: Readonly<Record<keyof Connection & string, number | 'property'>> = {
  name: 'property',
  info: 'property',
  state: 'property',
  proxies: 'property',
  createArgsProxies: 1,
  notifyOnDisconnect: 1,
  loseConnection: 0,
  remotePrint: 1,
  remoteGetWorkerInfo: 0,
  remoteSetBuilderList: 1,
  remoteStartCommand: 5,
  remoteShutdown: 0,
  remoteStartBuild: 1,
  remoteInterruptCommand: 3,
};
