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
 * Connections are capped, must present credentials in time (a stalled TLS handshake included),
 * may be closed when idle once attached, and failed logins are throttled as over AMP (§4.5): every
 * refusal is one warn line and one event on `refusals$`.
 *
 * A msgpack worker keeps running the commands of a connection that dropped. The listener remembers
 * their ids per worker name and, by default, asks the worker to interrupt them once it has
 * attached again ({@link MsgpackListenerOptions.reapOrphans}).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Observable } from 'rxjs';
import { WebSocketServer, type WebSocket } from 'ws';
import { ConnectionLostError } from '../../../codec/errors.js';
import { capConnections, watchIdle } from '../../connection-limits.js';
import { parseServerEndpoint, type EndpointDescription } from '../../endpoint.js';
import { defaultLogger, type Logger } from '../../logger.js';
import { ConnectionRefusedError, peerAddress, type Refusal } from '../../refusals.js';
import { DEFAULT_KEEPALIVE_INTERVAL_MS, DEFAULT_KEEPALIVE_TIMEOUT_MS, DEFAULT_WORKER_SETTINGS } from '../base-connection.js';
import type { BuilderList, WorkerSettings } from '../connection-api.js';
import {
  DEFAULT_LISTEN_ENDPOINT,
  DEFAULT_LOGIN_TIMEOUT_MS,
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
import { answerUpgrade, httpServer, LoginDeadlines } from './http-front.js';
import { MsgpackPeer } from './peer.js';
import type { PasswordHash } from '../password-hash.js';

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

/** @deprecated Use {@link Refusal}: both master listeners publish the same refusals. */
export type UpgradeRefusal = Refusal;

/** A WebSocket close reason must fit 123 bytes. */
const closeReason = (text: string) => Buffer.from(text, 'utf8').subarray(0, 120).toString('utf8');

export class MsgpackListener {
  readonly logger: Logger;
  private readonly options: MsgpackListenerOptions;
  private readonly admission: WorkerAdmission<MsgpackConnection>;
  /** Upgrades whose answer the login throttle holds back: a stop must not wait for them. */
  private readonly upgrading = new Set<Duplex>();
  private loginDeadlines: LoginDeadlines | undefined;
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

  /** Every refused upgrade and every connection closed by a limit, as it happens. Completes when the listener stops. */
  get refusals$(): Observable<Refusal> {
    return this.admission.refusals.refusals$;
  }

  /** Listens on the endpoint (default `tcp:0`); resolves with the bound address. */
  async start(): Promise<ListenerAddress> {
    if (this.server !== undefined && this.bound !== undefined) return this.bound;
    const endpoint = this.endpoint();
    const server = httpServer(endpoint, this.options.loginTimeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS, (_request, response) => {
      // Only WebSocket upgrades are served here.
      response.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close', Upgrade: 'websocket' });
      response.end('This is a Buildbot msgpack_experimental_v7 endpoint: connect with a WebSocket.\n');
    });
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => void this.onUpgrade(request, socket, head));
    server.on('clientError', (error, socket) => {
      this.logger.debug({ err: error }, 'bad HTTP request');
      socket.destroy();
    });
    capConnections(server, this.options.maxConnections, this.admission.refusals);
    const loginTimeoutMs = this.options.loginTimeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
    this.loginDeadlines = new LoginDeadlines(server, loginTimeoutMs, (address) => this.admission.refuseLate(address, loginTimeoutMs));
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
    for (const socket of this.upgrading) socket.destroy();
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
  }

  /** Adds a worker or changes its password (and builders); a connected worker stays connected. */
  updateRegistration(name: string, password: string | PasswordHash, options: { readonly builders?: BuilderList } = {}): Registration {
    return this.admission.updateRegistration(name, password, options);
  }

  /** Refuses `name` from now on and drops its connection if there is one. */
  unregister(name: string): void {
    this.admission.unregister(name);
  }

  // ---------------------------------------------------------------- the upgrade

  private async onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', (error) => this.logger.debug({ err: error }, 'socket error during the upgrade'));
    // Credentials have arrived: the peer is not stalling (a throttled answer may take longer).
    this.loginDeadlines?.credentialsArrived(request.socket);
    const address = peerAddress(request.socket);
    const refusals = this.admission.refusals;
    if (this.stopped) {
      refusals.refuse({ reason: 'stopping', address }, 'worker refused at the upgrade: the master is stopping');
      return answerUpgrade(socket, 503);
    }
    const auth = parseBasicAuth(request.headers.authorization);
    if (auth.kind === 'missing') {
      refusals.refuse({ reason: 'missing-credentials', address }, 'worker refused at the upgrade: no Authorization header');
      return answerUpgrade(socket, 401);
    }
    if (auth.kind === 'malformed') {
      refusals.refuse({ reason: 'malformed-credentials', address }, `worker refused at the upgrade: ${auth.reason}`);
      return answerUpgrade(socket, 400);
    }
    this.upgrading.add(socket);
    const verdict = await this.admission.authenticate(address, auth.username, auth.password);
    this.upgrading.delete(socket);
    if (socket.destroyed) return;
    if (verdict === 'throttled') return answerUpgrade(socket, 429);
    if (verdict !== 'accepted') return answerUpgrade(socket, 401);
    this.wss.handleUpgrade(request, socket, head, (ws) => this.adopt(ws, auth.username, socket, address));
  }

  // ---------------------------------------------------------------- attaching

  private adopt(ws: WebSocket, name: string, socket: Duplex, address: string): void {
    const peer = new MsgpackPeer(ws, { logger: this.logger.child({ worker: name }) });
    // Until its connection exists (a duplicate is being settled) the worker is not authenticated.
    peer.handleOthers(refuseUnauthenticated);
    this.peers.add(peer);
    void peer.closed.then(() => this.peers.delete(peer));
    // Armed after the upgrade: ws clears the socket's timeout when it takes the socket over.
    const idleTimeoutMs = this.options.idleTimeoutMs;
    watchIdle(socket, idleTimeoutMs, () => {
      if (peer.isClosed) return;
      this.admission.refusals.refuse({ reason: 'idle-timeout', address, workerName: name }, `connection closed: idle for ${idleTimeoutMs} ms`);
      peer.abort(new ConnectionRefusedError('idle-timeout', `idle for ${idleTimeoutMs} ms`));
    });
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
    this.admission.admit(address, name, () => peer.isClosed, connect).then(
      (connection) => this.runHandshake(connection),
      (error: unknown) => {
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
