/**
 * The master's listener for stock Buildbot workers over `msgpack_experimental_v7` (spec §5): a
 * WebSocket server (`ws`) on an HTTP server. Credentials are checked on the upgrade, before any
 * WebSocket exists, and refused as Buildbot's master refuses them: 401 without an Authorization
 * header or with a wrong name or password, 400 when the header is not Basic credentials.
 *
 * It keeps the AMP Listener's model: registrations (name → password and builders) that can change
 * at run time, Buildbot's duplicate rule (ping the old connection; an answer refuses the newcomer),
 * one {@link MsgpackConnection} per worker, and the attached workers published as an Observable.
 * Until a newcomer's connection exists its requests get "Worker not authenticated." and it is sent
 * nothing.
 *
 * A msgpack worker keeps running the commands of a connection that dropped. The listener remembers
 * their ids per worker name and, by default, asks the worker to interrupt them once it has
 * attached again ({@link MsgpackListenerOptions.reapOrphans}).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { Subject, type Observable } from 'rxjs';
import { WebSocketServer, type WebSocket } from 'ws';
import { ConnectionLostError } from '../../../codec/errors.js';
import { LoginRefusedError, NotAuthenticatedError } from '../../../codec/protocols/worker-errors.js';
import { defaultLogger, type Logger } from '../../logger.js';
import { DEFAULT_KEEPALIVE_INTERVAL_MS, DEFAULT_KEEPALIVE_TIMEOUT_MS, DEFAULT_WORKER_SETTINGS } from '../base-connection.js';
import type { BuilderList, WorkerSettings } from '../connection-api.js';
import { DEFAULT_DUPLICATE_PING_TIMEOUT_MS, NOT_AUTHENTICATED_MESSAGE, type CommonListenerOptions, type Registration } from '../listener.js';
import { parseBasicAuth } from './basic-auth.js';
import { MsgpackConnection, type RunningCommandRef } from './connection.js';
import { MsgpackPeer } from './peer.js';
import { DuplicateNames } from '../duplicate-names.js';
import { Registrations } from '../registrations.js';
import { WorkerRegistry, type RegistryEvent } from '../worker-registry.js';

/** What Buildbot's msgpack master sends in `set_worker_settings` (no AMP value limit to respect). */
export const MSGPACK_WORKER_SETTINGS: WorkerSettings = { ...DEFAULT_WORKER_SETTINGS, bufferSize: 64 * 1024 };
/** The largest frame accepted from a worker; upload blocks are the only big ones. */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;

/**
 * The common listener options, with msgpack's own: the keepalive deadline covers the `keepalive` op
 * and the WebSocket pong, and `workerSettings` defaults to Buildbot's `set_worker_settings`.
 */
export interface MsgpackListenerOptions extends CommonListenerOptions {
  /** Where to listen. Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: any free port (see `address`). */
  readonly port?: number;
  /** Interrupt, after a reconnect, the commands a lost connection left running. Default true. */
  readonly reapOrphans?: boolean;
  /** Interrupt running commands before `shutdown` (3.7's stopService bug). Default true. */
  readonly interruptBeforeShutdown?: boolean;
  /** Largest WebSocket message accepted. Default 64 MiB. */
  readonly maxPayload?: number;
}

export type MsgpackRegistryEvent = RegistryEvent<MsgpackConnection>;

/** An upgrade the listener refused, for operators and tests. */
export interface UpgradeRefusal {
  readonly status: 400 | 401 | 503;
  readonly reason: string;
  /** The name the worker claimed, when its header could be read. */
  readonly username?: string;
  readonly remoteAddress?: string;
}

const STATUS_TEXT: Record<UpgradeRefusal['status'], string> = { 400: 'Bad Request', 401: 'Unauthorized', 503: 'Service Unavailable' };
/** A WebSocket close reason must fit 123 bytes. */
const closeReason = (text: string) => Buffer.from(text, 'utf8').subarray(0, 120).toString('utf8');

export class MsgpackListener {
  readonly logger: Logger;
  private readonly options: MsgpackListenerOptions;
  private readonly registrations = new Registrations();
  /** Every connection by name, attaching ones included (duplicates are checked here). */
  private readonly registry = new WorkerRegistry<MsgpackConnection>();
  private readonly refusalSubject = new Subject<UpgradeRefusal>();
  private readonly duplicates: DuplicateNames;
  private readonly peers = new Set<MsgpackPeer>();
  private readonly orphans = new Map<string, RunningCommandRef[]>();
  private readonly wss: WebSocketServer;
  private server: Server | undefined;
  private addressInfo: AddressInfo | undefined;
  private stopped = false;

  constructor(options: MsgpackListenerOptions = {}) {
    this.options = options;
    this.logger = (options.logger ?? defaultLogger).child({ component: 'MsgpackListener' });
    this.duplicates = new DuplicateNames(this.logger, () => this.options.duplicatePingTimeoutMs ?? DEFAULT_DUPLICATE_PING_TIMEOUT_MS);
    // No subprotocol and no compression: a 3.7 worker asks for neither.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD, perMessageDeflate: false });
    for (const [name, registration] of Object.entries(options.registrations ?? {})) {
      if (typeof registration === 'string') this.updateRegistration(name, registration);
      else this.updateRegistration(name, registration.password, { builders: registration.builders });
    }
  }

  /** Where the server listens, once started. */
  get address(): { readonly host: string; readonly port: number } | undefined {
    return this.addressInfo === undefined ? undefined : { host: this.addressInfo.address, port: this.addressInfo.port };
  }

  /** The attached workers now. */
  get current(): ReadonlyMap<string, MsgpackConnection> {
    return this.registry.current;
  }

  /** A snapshot first, then every attach and detach. Completes when the listener stops. */
  get workers$(): Observable<MsgpackRegistryEvent> {
    return this.registry.events$;
  }

  /** Every refused upgrade (401, 400, 503), as it happens. */
  get refusals$(): Observable<UpgradeRefusal> {
    return this.refusalSubject.asObservable();
  }

  async start(): Promise<{ readonly host: string; readonly port: number }> {
    if (this.server !== undefined && this.address !== undefined) return this.address;
    const server = createServer((_request, response) => {
      // Only WebSocket upgrades are served here.
      response.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close', Upgrade: 'websocket' });
      response.end('This is a Buildbot msgpack_experimental_v7 endpoint: connect with a WebSocket.\n');
    });
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(request, socket, head));
    server.on('clientError', (error, socket) => {
      this.logger.debug({ err: error }, 'bad HTTP request');
      socket.destroy();
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.addressInfo = server.address() as AddressInfo;
    this.logger.info({ address: this.address }, 'listening for msgpack workers');
    return { host: this.addressInfo.address, port: this.addressInfo.port };
  }

  /** Stops listening and drops every worker. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const server = this.server;
    this.server = undefined;
    const closing = [...this.peers].map((peer) => {
      peer.abort(new ConnectionLostError('the master is stopping'));
      return peer.closed;
    });
    await Promise.all(closing);
    await Promise.all([...this.registry.loggedIn.values()].map((connection) => connection.detached));
    this.wss.close();
    if (server !== undefined) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    this.registry.complete();
    this.refusalSubject.complete();
  }

  /** Adds a worker or changes its password (and builders); a connected worker stays connected. */
  updateRegistration(name: string, password: string, options: { readonly builders?: BuilderList } = {}): Registration {
    this.registrations.set(name, password, options.builders);
    return { unregister: () => this.unregister(name) };
  }

  /** Refuses `name` from now on and drops its connection if there is one. */
  unregister(name: string): void {
    this.registrations.delete(name);
    this.orphans.delete(name);
    const connection = this.registry.loggedIn.get(name);
    if (connection !== undefined) {
      this.logger.info({ worker: name }, 'worker unregistered; dropping its connection');
      connection.loseConnection(new LoginRefusedError(`worker '${name}' was unregistered`));
    }
  }

  // ---------------------------------------------------------------- the upgrade

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (error) => this.logger.debug({ err: error }, 'socket error during the upgrade'));
    const remoteAddress = request.socket.remoteAddress;
    if (this.stopped) return this.refuse(socket, { status: 503, reason: 'the master is stopping', remoteAddress });
    const auth = parseBasicAuth(request.headers.authorization);
    if (auth.kind === 'missing') return this.refuse(socket, { status: 401, reason: 'no Authorization header', remoteAddress });
    if (auth.kind === 'malformed') return this.refuse(socket, { status: 400, reason: auth.reason, remoteAddress });
    if (this.registrations.check(auth.username, auth.password) === undefined) {
      return this.refuse(socket, { status: 401, reason: 'unknown name or wrong password', username: auth.username, remoteAddress });
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.adopt(ws, auth.username));
  }

  private refuse(socket: Duplex, refusal: UpgradeRefusal): void {
    this.logger.info({ ...refusal }, 'worker refused at the upgrade');
    const body = `${STATUS_TEXT[refusal.status]}\n`;
    socket.end(
      [
        `HTTP/1.1 ${refusal.status} ${STATUS_TEXT[refusal.status]}`,
        'Connection: close',
        'Content-Type: text/plain; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(body)}`,
        ...(refusal.status === 401 ? ['WWW-Authenticate: Basic realm="buildbot"'] : []),
        '',
        body,
      ].join('\r\n'),
    );
    this.refusalSubject.next(refusal);
  }

  // ---------------------------------------------------------------- attaching

  private adopt(ws: WebSocket, name: string): void {
    const peer = new MsgpackPeer(ws, { logger: this.logger.child({ worker: name }) });
    // Until its connection exists (a duplicate is being settled) the worker is not authenticated.
    peer.handleOthers(() => {
      throw new NotAuthenticatedError(NOT_AUTHENTICATED_MESSAGE);
    });
    this.peers.add(peer);
    void peer.closed.then(() => this.peers.delete(peer));
    if (this.stopped) {
      peer.abort(new ConnectionLostError('the master is stopping'));
      return;
    }
    this.duplicates.serialise(name, async () => {
      const old = this.registry.loggedIn.get(name);
      if (old !== undefined) await this.duplicates.settle(name, old);
      // The registration may have gone while we waited for the old connection.
      const registration = this.registrations.get(name);
      if (registration === undefined) throw new LoginRefusedError(`worker '${name}' was unregistered`);
      if (peer.isClosed) throw new LoginRefusedError('the transport closed during login');
      const connection = new MsgpackConnection(peer, {
        name,
        logger: this.logger,
        inspect: this.options.inspect,
        keepaliveIntervalMs: this.options.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS,
        keepaliveTimeoutMs: this.options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
        builders: registration.builders,
        workerSettings: this.options.workerSettings === undefined ? MSGPACK_WORKER_SETTINGS : this.options.workerSettings,
        confinePaths: this.options.confinePaths,
        interruptBeforeShutdown: this.options.interruptBeforeShutdown,
      });
      this.registry.loggedIn.set(name, connection);
      connection.notifyOnDisconnect((reason) => this.onDetached(connection, reason));
      return connection;
    }).then(
      (connection) => this.runHandshake(connection),
      (error: unknown) => {
        this.logger.info({ worker: name, reason: (error as Error).message }, 'worker refused');
        // 1008: policy violation. The worker logs the reason and retries later.
        peer.close(1008, closeReason((error as Error).message));
      },
    );
  }

  private runHandshake(connection: MsgpackConnection): void {
    connection.attach().then(
      async () => {
        const orphans = this.orphans.get(connection.name);
        if (orphans !== undefined && (this.options.reapOrphans ?? true)) {
          this.orphans.delete(connection.name);
          await connection.reapOrphans(orphans);
        }
        this.registry.publishAttached(connection);
      },
      (error: unknown) => this.logger.warn({ worker: connection.name, err: error }, 'handshake failed'),
    );
  }

  private onDetached(connection: MsgpackConnection, reason: Error): void {
    const running = connection.runningCommands;
    if (running.length > 0 && this.registrations.get(connection.name) !== undefined) {
      // The worker goes on running them (msgpack workers do not kill on disconnect).
      this.orphans.set(connection.name, [...(this.orphans.get(connection.name) ?? []), ...running]);
      this.logger.warn({ worker: connection.name, commands: running.map((command) => command.commandId) }, 'worker lost with commands running');
    }
    this.registry.withdraw(connection, reason);
  }
}
