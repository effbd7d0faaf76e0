/**
 * The master's listener for stock Buildbot workers over `msgpack_experimental_v7` (docs/master-worker-protocol.md §5): a
 * WebSocket server (`ws`) on an HTTP server. Credentials are checked on the upgrade, before any
 * WebSocket exists, and refused as Buildbot's master refuses them: 401 without an Authorization
 * header or with a wrong name or password, 400 when the header is not Basic credentials.
 *
 * What it shares with the AMP listener is {@link WorkerAdmission}: registrations (name → password
 * and builders) that can change at run time, Buildbot's duplicate rule (ping the old connection; an
 * answer refuses the newcomer), one {@link MsgpackConnection} per worker, and the attached workers
 * published as an Observable. Until a newcomer's connection exists its requests get "Worker not
 * authenticated." and it is sent nothing. It listens on a Twisted-style endpoint, as the AMP one
 * does (`ssl:` serves `wss`).
 *
 * A msgpack worker keeps running the commands of a connection that dropped. The listener remembers
 * their ids per worker name and, by default, asks the worker to interrupt them once it has
 * attached again ({@link MsgpackListenerOptions.reapOrphans}).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { Subject, type Observable } from 'rxjs';
import { WebSocketServer, type WebSocket } from 'ws';
import { ConnectionLostError } from '../../../codec/errors.js';
import { parseServerEndpoint, type EndpointDescription } from '../../endpoint.js';
import { defaultLogger, type Logger } from '../../logger.js';
import { DEFAULT_KEEPALIVE_INTERVAL_MS, DEFAULT_KEEPALIVE_TIMEOUT_MS, DEFAULT_WORKER_SETTINGS } from '../base-connection.js';
import type { BuilderList, WorkerSettings } from '../connection-api.js';
import {
  DEFAULT_LISTEN_ENDPOINT,
  listenerAddress,
  refuseUnauthenticated,
  WorkerAdmission,
  type CommonListenerOptions,
  type ListenerAddress,
  type Registration,
} from '../worker-admission.js';
import type { StoredRegistration } from '../registrations.js';
import type { RegistryEvent } from '../worker-registry.js';
import { parseBasicAuth } from './basic-auth.js';
import { MsgpackConnection, type RunningCommandRef } from './connection.js';
import { MsgpackPeer } from './peer.js';

/** What Buildbot's msgpack master sends in `set_worker_settings` (no AMP value limit to respect). */
export const MSGPACK_WORKER_SETTINGS: WorkerSettings = { ...DEFAULT_WORKER_SETTINGS, bufferSize: 64 * 1024 };
/** The largest frame accepted from a worker; upload blocks are the only big ones. */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;

/**
 * The common listener options, with msgpack's own: the keepalive deadline covers the `keepalive` op
 * and the WebSocket pong, and `workerSettings` defaults to Buildbot's `set_worker_settings`.
 */
export interface MsgpackListenerOptions extends CommonListenerOptions {
  /** @deprecated Use `endpoint` (`tcp:PORT:interface=HOST`); still honoured when `endpoint` is absent. */
  readonly host?: string;
  /** @deprecated Use `endpoint` (`tcp:PORT`); still honoured when `endpoint` is absent. */
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
  private readonly admission: WorkerAdmission<MsgpackConnection>;
  private readonly refusalSubject = new Subject<UpgradeRefusal>();
  private readonly peers = new Set<MsgpackPeer>();
  private readonly orphans = new Map<string, RunningCommandRef[]>();
  private readonly wss: WebSocketServer;
  private server: Server | undefined;
  private bound: ListenerAddress | undefined;
  private stopped = false;

  constructor(options: MsgpackListenerOptions = {}) {
    this.options = options;
    this.logger = (options.logger ?? defaultLogger).child({ component: 'MsgpackListener' });
    this.admission = new WorkerAdmission(this.logger, options, {
      onDetached: (connection) => this.keepOrphans(connection),
      onUnregistered: (name) => this.orphans.delete(name),
    });
    // No subprotocol and no compression: a 3.7 worker asks for neither.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD, perMessageDeflate: false });
  }

  /** Where the server listens, once started. */
  get address(): ListenerAddress | undefined {
    return this.bound;
  }

  /** The attached workers now. */
  get current(): ReadonlyMap<string, MsgpackConnection> {
    return this.admission.current;
  }

  /** A snapshot first, then every attach and detach. Completes when the listener stops. */
  get workers$(): Observable<MsgpackRegistryEvent> {
    return this.admission.workers$;
  }

  /** Every refused upgrade (401, 400, 503), as it happens. */
  get refusals$(): Observable<UpgradeRefusal> {
    return this.refusalSubject.asObservable();
  }

  /** Listens on the endpoint (default `tcp:0`); resolves with the bound address. */
  async start(): Promise<ListenerAddress> {
    if (this.server !== undefined && this.bound !== undefined) return this.bound;
    const endpoint = this.endpoint();
    const server = httpServer(endpoint, (_request, response) => {
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
      const ready = () => {
        server.off('error', reject);
        resolve();
      };
      if (endpoint.kind === 'unix') server.listen(endpoint.path, ready);
      else server.listen(endpoint.port, endpoint.host, ready);
    });
    this.bound = listenerAddress(server.address());
    this.logger.info({ address: this.bound }, 'listening for msgpack workers');
    return this.bound;
  }

  /** The `endpoint` option, or the deprecated host and port. */
  private endpoint(): EndpointDescription {
    const { endpoint, host, port } = this.options;
    if (endpoint !== undefined || (host === undefined && port === undefined)) return parseServerEndpoint(endpoint ?? DEFAULT_LISTEN_ENDPOINT);
    return { kind: 'tcp', host: host ?? '127.0.0.1', port: port ?? 0 };
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
    await Promise.all([...this.admission.registry.loggedIn.values()].map((connection) => connection.detached));
    this.wss.close();
    if (server !== undefined) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    await this.admission.drain();
    this.refusalSubject.complete();
  }

  /** Adds a worker or changes its password (and builders); a connected worker stays connected. */
  updateRegistration(name: string, password: string, options: { readonly builders?: BuilderList } = {}): Registration {
    return this.admission.updateRegistration(name, password, options);
  }

  /** Refuses `name` from now on and drops its connection if there is one. */
  unregister(name: string): void {
    this.admission.unregister(name);
  }

  // ---------------------------------------------------------------- the upgrade

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (error) => this.logger.debug({ err: error }, 'socket error during the upgrade'));
    const remoteAddress = request.socket.remoteAddress;
    if (this.stopped) return this.refuse(socket, { status: 503, reason: 'the master is stopping', remoteAddress });
    const auth = parseBasicAuth(request.headers.authorization);
    if (auth.kind === 'missing') return this.refuse(socket, { status: 401, reason: 'no Authorization header', remoteAddress });
    if (auth.kind === 'malformed') return this.refuse(socket, { status: 400, reason: auth.reason, remoteAddress });
    if (!this.admission.checkCredentials(auth.username, auth.password)) {
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
    peer.handleOthers(refuseUnauthenticated);
    this.peers.add(peer);
    void peer.closed.then(() => this.peers.delete(peer));
    if (this.stopped) {
      peer.abort(new ConnectionLostError('the master is stopping'));
      return;
    }
    const connect = (registration: StoredRegistration) =>
      new MsgpackConnection(peer, {
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
    this.admission.admit(name, () => peer.isClosed, connect).then(
      (connection) => this.runHandshake(connection),
      (error: unknown) => {
        this.logger.info({ worker: name, reason: (error as Error).message }, 'worker refused');
        // 1008: policy violation. The worker logs the reason and retries later.
        peer.close(1008, closeReason((error as Error).message));
      },
    );
  }

  private runHandshake(connection: MsgpackConnection): void {
    this.admission.handshake(connection, async () => {
      const orphans = this.orphans.get(connection.name);
      if (orphans !== undefined && (this.options.reapOrphans ?? true)) {
        this.orphans.delete(connection.name);
        await connection.reapOrphans(orphans);
      }
    });
  }

  /** The worker goes on running a lost connection's commands (msgpack workers do not kill on disconnect). */
  private keepOrphans(connection: MsgpackConnection): void {
    const running = connection.runningCommands;
    if (running.length === 0 || !this.admission.isRegistered(connection.name)) return;
    this.orphans.set(connection.name, [...(this.orphans.get(connection.name) ?? []), ...running]);
    this.logger.warn({ worker: connection.name, commands: running.map((command) => command.commandId) }, 'worker lost with commands running');
  }
}

/** HTTP for `tcp:` and `unix:`, HTTPS (so `wss`) for `ssl:`/`tls:` with the endpoint's certificate. */
function httpServer(endpoint: EndpointDescription, onRequest: RequestListener): Server {
  if (endpoint.kind !== 'tls') return createServer(onRequest);
  // A single PEM may hold both the certificate and its key.
  const keyFile = endpoint.privateKey ?? endpoint.certificate;
  return createTlsServer(
    {
      cert: endpoint.certificate === undefined ? undefined : readFileSync(endpoint.certificate),
      key: keyFile === undefined ? undefined : readFileSync(keyFile),
    },
    onRequest,
  );
}
