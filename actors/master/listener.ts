/**
 * The master's AMP listener for one endpoint (Buildbot's `protocols.base.Listener`): accepts
 * transports, authenticates the worker's Login, settles duplicate names, and spawns a
 * {@link MasterConnection} per worker. What it shares with the msgpack listener (registrations,
 * refusals before login, admission, the registry of attached workers) is {@link WorkerAdmission}.
 *
 * Login rules (docs/master-worker-protocol.md §4, §6): until Login succeeds nothing else is answered but with "Worker not
 * authenticated.", and the master sends nothing. Passwords are compared in constant time over
 * their SHA-256 (an unknown name costs the same as a wrong password and gets the same answer).
 * Failed logins are throttled, and connections are capped, must log in in time and may be closed
 * when idle (§4.5); every refusal is one warn line and one event on `refusals$`.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Observable } from 'rxjs';
import {
  Complete,
  DownloadClose,
  DownloadRead,
  Login,
  Update,
  UploadClose,
  UploadUnpack,
  UploadUtime,
  UploadWrite,
} from '../../codec/protocols/worker-commands.js';
import { LoginRefusedError } from '../../codec/protocols/worker-errors.js';
import { AmpConnection } from '../amp-connection.js';
import { listen, type AmpServer } from '../connect.js';
import { armDeadline } from '../connection-limits.js';
import { defaultLogger, type Logger } from '../logger.js';
import { ConnectionRefusedError, peerAddress, type Refusal } from '../refusals.js';
import { ResponderTable } from '../responders.js';
import { DEFAULT_KEEPALIVE_INTERVAL_MS, DEFAULT_KEEPALIVE_TIMEOUT_MS } from './base-connection.js';
import type { BuilderList } from './connection-api.js';
import { MasterConnection } from './master-connection.js';
import type { PasswordHash } from './password-hash.js';
import {
  DEFAULT_LISTEN_ENDPOINT,
  DEFAULT_LOGIN_TIMEOUT_MS,
  listenerAddress,
  refuseUnauthenticated,
  WorkerAdmission,
  type CommonListenerOptions,
  type ListenerAddress,
  type Registration,
} from './worker-admission.js';
import type { RegistryEvent } from './worker-registry.js';

export {
  DEFAULT_DUPLICATE_PING_TIMEOUT_MS,
  DEFAULT_LISTEN_ENDPOINT,
  DEFAULT_LOGIN_TIMEOUT_MS,
  NOT_AUTHENTICATED_MESSAGE,
  type CommonListenerOptions,
  type ListenerAddress,
  type Registration,
  type WorkerRegistration,
} from './worker-admission.js';

/** The largest transfer window the master grants (the worker asks; the smaller wins). */
export const DEFAULT_MAX_TRANSFER_WINDOW = 16;

export interface AmpListenerOptions extends CommonListenerOptions {
  /** The largest transfer window granted. Default 16. */
  readonly maxTransferWindow?: number;
}

/** @deprecated Use {@link AmpListenerOptions}. */
export type ListenerOptions = AmpListenerOptions;

export type WorkerRegistryEvent = RegistryEvent<MasterConnection>;

/** The worker → master commands, which before Login only get "Worker not authenticated.". */
const WORKER_CALLS = [Update, Complete, UploadWrite, UploadUtime, UploadUnpack, UploadClose, DownloadRead, DownloadClose];

export class AmpListener {
  readonly logger: Logger;
  private readonly options: AmpListenerOptions;
  private readonly admission: WorkerAdmission<MasterConnection>;
  private readonly transports = new Set<AmpConnection>();
  private server: AmpServer | undefined;
  private stopped = false;

  constructor(options: AmpListenerOptions = {}) {
    this.options = options;
    this.logger = (options.logger ?? defaultLogger).child({ component: 'Listener' });
    this.admission = new WorkerAdmission(this.logger, options);
  }

  /** Where the endpoint listens, once started. */
  get address(): ListenerAddress | undefined {
    return this.server === undefined ? undefined : listenerAddress(this.server.address);
  }

  /** The attached workers now. */
  get current(): ReadonlyMap<string, MasterConnection> {
    return this.admission.current;
  }

  /** A snapshot first, then every attach and detach. Completes when the listener stops. */
  get workers$(): Observable<WorkerRegistryEvent> {
    return this.admission.workers$;
  }

  /** Every refused login and every connection closed by a limit, as it happens. Completes when the listener stops. */
  get refusals$(): Observable<Refusal> {
    return this.admission.refusals.refusals$;
  }

  /** Listens on the endpoint (default `tcp:0`); resolves with the bound address. */
  async start(): Promise<ListenerAddress> {
    if (this.server === undefined) {
      this.server = await listen(this.options.endpoint ?? DEFAULT_LISTEN_ENDPOINT, {
        logger: this.logger,
        inspect: this.options.inspect,
        name: 'MasterListener',
        responders: () => new ResponderTable(),
        maxConnections: this.options.maxConnections,
        idleTimeoutMs: this.options.idleTimeoutMs,
        // The login deadline is stricter than the first box's.
        firstBoxTimeoutMs: 0,
        refusals: this.admission.refusals,
        onConnection: (amp, address) => this.adopt(amp, address),
      });
      this.logger.info({ address: this.server.address }, 'listening for workers');
    }
    return listenerAddress(this.server.address);
  }

  /** Stops listening and drops every worker. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const server = this.server;
    this.server = undefined;
    // A server's close waits for its sockets, so they are aborted first.
    const closing = [...this.transports].map((amp) => {
      amp.abort();
      return amp.closed;
    });
    await Promise.all([server?.close(), ...closing]);
    await this.admission.drain();
  }

  /** Serves a transport that is already connected (an in-process pair, a socket from elsewhere). */
  accept(transport: Duplex): AmpConnection {
    const amp = new AmpConnection(transport, {
      role: 'server',
      logger: this.logger,
      inspect: this.options.inspect,
      name: 'MasterListener',
      responders: new ResponderTable(),
    });
    this.adopt(amp, peerAddress(transport as Partial<Socket>));
    return amp;
  }

  /** Adds a worker or changes its password (and builders); a connected worker stays connected. */
  updateRegistration(name: string, password: string | PasswordHash, options: { readonly builders?: BuilderList } = {}): Registration {
    return this.admission.updateRegistration(name, password, options);
  }

  /** Refuses `name` from now on and drops its connection if there is one. */
  unregister(name: string): void {
    this.admission.unregister(name);
  }

  // ---------------------------------------------------------------- login

  private adopt(amp: AmpConnection, address: string): void {
    if (this.stopped) {
      amp.abort();
      return;
    }
    this.transports.add(amp);
    void amp.closed.then(() => this.transports.delete(amp));
    const table = amp.responders;
    for (const command of WORKER_CALLS) table.on(command, refuseUnauthenticated);
    let loggedIn = false;
    let loginStarted = false;
    const loginTimeoutMs = this.options.loginTimeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
    // Once the Login has arrived the peer is not stalling: a throttled answer may take longer.
    const disarmLoginDeadline = armDeadline(loginTimeoutMs, () => {
      this.admission.refuseLate(address, loginTimeoutMs);
      amp.abort(new ConnectionRefusedError('login-deadline', `no login within ${loginTimeoutMs} ms`));
    });
    void amp.closed.then(disarmLoginDeadline);

    table.on(Login, async ({ username, password, transferWindow }) => {
      if (loginStarted) throw new LoginRefusedError(loggedIn ? 'already logged in' : 'a login is already in progress');
      loginStarted = true;
      disarmLoginDeadline();
      try {
        const connection = await this.login(amp, address, username, password, transferWindow);
        loggedIn = true;
        // After the answer is on the wire: the worker learns it is accepted before the first print.
        setImmediate(() => this.admission.handshake(connection));
        return { transferWindow: connection.transferWindow };
      } catch (error) {
        // The refusal goes out first; then the transport is closed (the worker retries later).
        setImmediate(() => amp.close());
        throw error;
      }
    });
  }

  private async login(
    amp: AmpConnection,
    address: string,
    name: string,
    password: string,
    requestedWindow: number | undefined,
  ): Promise<MasterConnection> {
    const verdict = await this.admission.authenticate(address, name, password);
    if (verdict === 'throttled') throw new LoginRefusedError(`login refused for worker '${name}': too many failed logins; retry later`);
    if (verdict !== 'accepted') throw new LoginRefusedError(`login refused for worker '${name}': unknown name or wrong password`);
    const maxWindow = this.options.maxTransferWindow ?? DEFAULT_MAX_TRANSFER_WINDOW;
    return this.admission.admit(
      address,
      name,
      () => amp.isClosed,
      (registration) =>
        new MasterConnection(amp, {
          name,
          logger: this.logger,
          inspect: this.options.inspect,
          keepaliveIntervalMs: this.options.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS,
          keepaliveTimeoutMs: this.options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
          builders: registration.builders,
          workerSettings: this.options.workerSettings,
          confinePaths: this.options.confinePaths,
          transferWindow: Math.max(1, Math.min(requestedWindow ?? 1, maxWindow)),
        }),
    );
  }
}

/** @deprecated Use {@link AmpListener}: the name says which protocol it speaks. */
export const Listener = AmpListener;
/** @deprecated Use {@link AmpListener}. */
export type Listener = AmpListener;
