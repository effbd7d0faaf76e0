/**
 * The master's AMP Listener for one endpoint (Buildbot's `protocols.base.Listener`): accepts
 * transports, authenticates the worker's Login, settles duplicate names, and spawns a
 * {@link MasterConnection} per worker. It owns the registrations (name → password) and publishes
 * the registry of attached workers as an Observable.
 *
 * Login rules (spec §4, §6): until Login succeeds nothing else is answered but with "Worker not
 * authenticated.", and the master sends nothing. Passwords are compared in constant time over
 * their SHA-256 (an unknown name costs the same as a wrong password and gets the same answer).
 */
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
import { LoginRefusedError, NotAuthenticatedError } from '../../codec/protocols/worker-errors.js';
import { AmpConnection, type Inspector } from '../amp-connection.js';
import { listen, type AmpServer } from '../connect.js';
import { defaultLogger, type Logger } from '../logger.js';
import { ResponderTable } from '../responders.js';
import { DEFAULT_KEEPALIVE_INTERVAL_MS, DEFAULT_KEEPALIVE_TIMEOUT_MS } from './base-connection.js';
import type { BuilderList, WorkerSettings } from './connection-api.js';
import { DuplicateNames } from './duplicate-names.js';
import { MasterConnection } from './master-connection.js';
import { Registrations } from './registrations.js';
import { WorkerRegistry, type RegistryEvent } from './worker-registry.js';

export const NOT_AUTHENTICATED_MESSAGE = 'Worker not authenticated.';
export const DEFAULT_DUPLICATE_PING_TIMEOUT_MS = 10_000;
export const DEFAULT_LOGIN_TIMEOUT_MS = 30_000;
/** The largest transfer window the master grants (the worker asks; the smaller wins). */
export const DEFAULT_MAX_TRANSFER_WINDOW = 16;

export interface WorkerRegistration {
  readonly password: string;
  /** Sent in the handshake (remoteSetBuilderList), each builder then greeted with print "attached". */
  readonly builders?: BuilderList;
}

/** What every listener takes, whatever protocol it speaks. */
export interface CommonListenerOptions {
  /** Worker name → password (or a registration with builders). */
  readonly registrations?: Readonly<Record<string, string | WorkerRegistration>>;
  readonly logger?: Logger;
  readonly inspect?: Inspector;
  /** Keepalive interval once attached; 0 disables. Default 60 s. */
  readonly keepaliveIntervalMs?: number;
  /** Keepalive reply deadline; a worker that misses it is dropped. Default 30 s. */
  readonly keepaliveTimeoutMs?: number;
  /** How long the old connection of a duplicate name has to answer its ping. Default 10 s. */
  readonly duplicatePingTimeoutMs?: number;
  /** Output settings sent in the handshake; null sends none. */
  readonly workerSettings?: WorkerSettings | null;
  /** Refuse command paths resolving outside the builder directory. */
  readonly confinePaths?: boolean;
}

export interface ListenerOptions extends CommonListenerOptions {
  /** A Twisted-style server endpoint (`tcp:0`, `tcp:9989:interface=127.0.0.1`, `ssl:…`, `unix:…`). */
  readonly endpoint?: string;
  /** A transport that has not logged in by then is closed. Default 30 s; 0 disables. */
  readonly loginTimeoutMs?: number;
  /** The largest transfer window granted. Default 16. */
  readonly maxTransferWindow?: number;
}

export type WorkerRegistryEvent = RegistryEvent<MasterConnection>;

export interface Registration {
  /** Refuses the worker from now on (and drops it if connected). */
  unregister(): void;
}


/** The worker → master commands, which before Login only get "Worker not authenticated.". */
const WORKER_CALLS = [Update, Complete, UploadWrite, UploadUtime, UploadUnpack, UploadClose, DownloadRead, DownloadClose];

export class Listener {
  readonly logger: Logger;
  private readonly options: ListenerOptions;
  private readonly registrations = new Registrations();
  /** Every logged-in connection by name, attaching ones included (duplicates are checked here). */
  private readonly registry = new WorkerRegistry<MasterConnection>();
  private readonly transports = new Set<AmpConnection>();
  private readonly duplicates: DuplicateNames;
  private server: AmpServer | undefined;
  private stopped = false;

  constructor(options: ListenerOptions = {}) {
    this.options = options;
    this.logger = (options.logger ?? defaultLogger).child({ component: 'Listener' });
    this.duplicates = new DuplicateNames(this.logger, () => this.options.duplicatePingTimeoutMs ?? DEFAULT_DUPLICATE_PING_TIMEOUT_MS);
    for (const [name, registration] of Object.entries(options.registrations ?? {})) {
      if (typeof registration === 'string') this.updateRegistration(name, registration);
      else this.updateRegistration(name, registration.password, { builders: registration.builders });
    }
  }

  /** Where the endpoint listens, once started. */
  get address(): AmpServer['address'] | undefined {
    return this.server?.address;
  }

  /** The attached workers now. */
  get current(): ReadonlyMap<string, MasterConnection> {
    return this.registry.current;
  }

  /** A snapshot first, then every attach and detach. Completes when the listener stops. */
  get workers$(): Observable<WorkerRegistryEvent> {
    return this.registry.events$;
  }

  async start(): Promise<AmpServer['address']> {
    if (this.server !== undefined) return this.server.address;
    if (this.options.endpoint === undefined) throw new TypeError('Listener.start() needs an endpoint');
    this.server = await listen(this.options.endpoint, {
      logger: this.logger,
      inspect: this.options.inspect,
      name: 'MasterListener',
      responders: () => new ResponderTable(),
      onConnection: (amp) => this.adopt(amp),
    });
    this.logger.info({ address: this.server.address }, 'listening for workers');
    return this.server.address;
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
    await Promise.all([...this.registry.loggedIn.values()].map((connection) => connection.detached));
    this.registry.complete();
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
    this.adopt(amp);
    return amp;
  }

  /** Adds a worker or changes its password (and builders); a connected worker stays connected. */
  updateRegistration(name: string, password: string, options: { readonly builders?: BuilderList } = {}): Registration {
    this.registrations.set(name, password, options.builders);
    return { unregister: () => this.unregister(name) };
  }

  /** Refuses `name` from now on and drops its connection if there is one. */
  unregister(name: string): void {
    this.registrations.delete(name);
    const connection = this.registry.loggedIn.get(name);
    if (connection !== undefined) {
      this.logger.info({ worker: name }, 'worker unregistered; dropping its connection');
      connection.loseConnection(new LoginRefusedError(`worker '${name}' was unregistered`));
    }
  }

  // ---------------------------------------------------------------- login

  private adopt(amp: AmpConnection): void {
    if (this.stopped) {
      amp.abort();
      return;
    }
    this.transports.add(amp);
    void amp.closed.then(() => this.transports.delete(amp));
    const table = amp.responders;
    for (const command of WORKER_CALLS) {
      table.on(command, () => {
        throw new NotAuthenticatedError(NOT_AUTHENTICATED_MESSAGE);
      });
    }
    let loggedIn = false;
    let loginStarted = false;
    const loginTimeoutMs = this.options.loginTimeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
    const loginTimer =
      loginTimeoutMs > 0
        ? setTimeout(() => {
            if (!loggedIn) {
              this.logger.info('no login in time; closing the transport');
              amp.abort(new LoginRefusedError('no login in time'));
            }
          }, loginTimeoutMs)
        : undefined;
    loginTimer?.unref?.();
    void amp.closed.then(() => clearTimeout(loginTimer));

    table.on(Login, async ({ username, password, transferWindow }) => {
      if (loginStarted) throw new LoginRefusedError(loggedIn ? 'already logged in' : 'a login is already in progress');
      loginStarted = true;
      try {
        const connection = await this.login(amp, username, password, transferWindow);
        loggedIn = true;
        clearTimeout(loginTimer);
        // After the answer is on the wire: the worker learns it is accepted before the first print.
        setImmediate(() => this.runHandshake(connection));
        return { transferWindow: connection.transferWindow };
      } catch (error) {
        this.logger.info({ worker: username, reason: (error as Error).message }, 'login refused');
        // The refusal goes out first; then the transport is closed (the worker retries later).
        setImmediate(() => amp.close());
        throw error;
      }
    });
  }

  private async login(amp: AmpConnection, name: string, password: string, requestedWindow: number | undefined): Promise<MasterConnection> {
    this.checkCredentials(name, password);
    return this.duplicates.serialise(name, async () => {
      const old = this.registry.loggedIn.get(name);
      if (old !== undefined) await this.duplicates.settle(name, old);
      // The registration may have gone while we waited for the old connection.
      const registration = this.registrations.get(name);
      if (registration === undefined) throw new LoginRefusedError(`worker '${name}' was unregistered`);
      if (amp.isClosed) throw new LoginRefusedError('the transport closed during login');
      const maxWindow = this.options.maxTransferWindow ?? DEFAULT_MAX_TRANSFER_WINDOW;
      const connection = new MasterConnection(amp, {
        name,
        logger: this.logger,
        inspect: this.options.inspect,
        keepaliveIntervalMs: this.options.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS,
        keepaliveTimeoutMs: this.options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
        builders: registration.builders,
        workerSettings: this.options.workerSettings,
        confinePaths: this.options.confinePaths,
        transferWindow: Math.max(1, Math.min(requestedWindow ?? 1, maxWindow)),
      });
      this.registry.loggedIn.set(name, connection);
      connection.notifyOnDisconnect((reason) => this.onDetached(connection, reason));
      return connection;
    });
  }

  private checkCredentials(name: string, password: string): void {
    if (this.registrations.check(name, password) === undefined) {
      throw new LoginRefusedError(`login refused for worker '${name}': unknown name or wrong password`);
    }
  }


  private runHandshake(connection: MasterConnection): void {
    connection.attach().then(
      () => {
        this.registry.publishAttached(connection);
      },
      (error: unknown) => this.logger.warn({ worker: connection.name, err: error }, 'handshake failed'),
    );
  }

  private onDetached(connection: MasterConnection, reason: Error): void {
    this.registry.withdraw(connection, reason);
  }
}
