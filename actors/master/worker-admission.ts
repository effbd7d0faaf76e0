/**
 * What every master listener does with its workers, whatever protocol it speaks (AMP, msgpack):
 * the registrations (name → password and builders, changeable at run time), the refusal of
 * anything a worker asks before it is logged in, the admission of a logged-in worker one name at a
 * time under Buildbot's duplicate rule, the handshake, and the registry of attached workers
 * published as an Observable. A listener adds its transport: how credentials arrive, how a refusal
 * is written, how its connection is built.
 */
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Observable } from 'rxjs';
import { LoginRefusedError, NotAuthenticatedError } from '../../codec/protocols/worker-errors.js';
import type { Inspector } from '../amp-connection.js';
import type { ConnectionLimitOptions } from '../connection-limits.js';
import type { Logger } from '../logger.js';
import { peerHost, RefusalLog, type Refusal } from '../refusals.js';
import type { BaseConnection } from './base-connection.js';
import type { BuilderList, WorkerSettings } from './connection-api.js';
import { DuplicateNames } from './duplicate-names.js';
import { LoginThrottle, type LoginThrottleOptions } from './login-throttle.js';
import type { PasswordHash } from './password-hash.js';
import { Registrations, type StoredRegistration } from './registrations.js';
import { WorkerRegistry, type RegistryEvent } from './worker-registry.js';

export const NOT_AUTHENTICATED_MESSAGE = 'Worker not authenticated.';
export const DEFAULT_DUPLICATE_PING_TIMEOUT_MS = 10_000;
/** How long a new connection has to present credentials. */
export const DEFAULT_LOGIN_TIMEOUT_MS = 30_000;
/** Where a listener listens unless told: the loopback interface, any free port. */
export const DEFAULT_LISTEN_ENDPOINT = 'tcp:0';

export interface WorkerRegistration {
  /** The password, or its scrypt hash (a master service's configuration holds only hashes). */
  readonly password: string | PasswordHash;
  /** Sent in the handshake (remoteSetBuilderList), each builder then greeted with print "attached". */
  readonly builders?: BuilderList;
}

/** What every listener takes, whatever protocol it speaks. */
export interface CommonListenerOptions extends ConnectionLimitOptions {
  /**
   * A Twisted-style server endpoint (`tcp:0`, `tcp:9989:interface=0.0.0.0`, `ssl:9989:certKey=…`,
   * `unix:/path`); see docs/. Default `tcp:0`: 127.0.0.1, any free port (see what `start` returns).
   */
  readonly endpoint?: string;
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
  /** A connection that has not presented credentials by then is closed. Default 30 s; 0 disables. */
  readonly loginTimeoutMs?: number;
  /** When failed logins start to be answered slowly, and how slowly (docs/master-worker-protocol.md §4.5). */
  readonly loginThrottle?: LoginThrottleOptions;
}

/** What a login came to once the throttle and the registrations have had their say. */
export type LoginVerdict = 'accepted' | Extract<Refusal['reason'], 'bad-credentials' | 'unknown-worker' | 'throttled'>;

/**
 * Where a listener is bound, whatever its protocol: node's AddressInfo, with the real port when
 * port 0 was asked for. For a unix socket `family` is 'unix', `address` the socket path, `port` 0.
 */
export type ListenerAddress = AddressInfo;

/** A bound address as node reports it (a unix socket's is its path) in the one listener shape. */
export function listenerAddress(address: AddressInfo | string | null): ListenerAddress {
  if (address !== null && typeof address === 'object') return address;
  return { address: address ?? '', family: 'unix', port: 0 };
}

export interface Registration {
  /** Refuses the worker from now on (and drops it if connected). */
  unregister(): void;
}

/** The answer to anything a worker asks before it is logged in (and the master sends it nothing). */
export function refuseUnauthenticated(): never {
  throw new NotAuthenticatedError(NOT_AUTHENTICATED_MESSAGE);
}

export interface WorkerAdmissionHooks<C> {
  /** Called when an admitted connection detaches, before it leaves the registry. */
  readonly onDetached?: (connection: C, reason: Error) => void;
  /** Called when a name is unregistered (its connection, if any, is being dropped). */
  readonly onUnregistered?: (name: string) => void;
}

export class WorkerAdmission<C extends BaseConnection> {
  /** Every logged-in connection by name, attaching ones included, and the attached ones published. */
  readonly registry = new WorkerRegistry<C>();
  /** Every refusal of the listener, this class's and its transport's. */
  readonly refusals: RefusalLog;
  private readonly registrations = new Registrations();
  private readonly duplicates: DuplicateNames;
  private readonly throttle: LoginThrottle;

  constructor(
    private readonly logger: Logger,
    options: CommonListenerOptions,
    private readonly hooks: WorkerAdmissionHooks<C> = {},
  ) {
    this.refusals = new RefusalLog(logger);
    this.throttle = new LoginThrottle(options.loginThrottle);
    this.duplicates = new DuplicateNames(logger, () => options.duplicatePingTimeoutMs ?? DEFAULT_DUPLICATE_PING_TIMEOUT_MS);
    for (const [name, registration] of Object.entries(options.registrations ?? {})) {
      if (typeof registration === 'string') this.updateRegistration(name, registration);
      else this.updateRegistration(name, registration.password, { builders: registration.builders });
    }
  }

  /** The attached workers now. */
  get current(): ReadonlyMap<string, C> {
    return this.registry.current;
  }

  /** A snapshot first, then every attach and detach. Completes when the listener stops. */
  get workers$(): Observable<RegistryEvent<C>> {
    return this.registry.events$;
  }

  /** Adds a worker or changes its password (and builders); a connected worker stays connected. */
  updateRegistration(name: string, password: string | PasswordHash, options: { readonly builders?: BuilderList } = {}): Registration {
    this.registrations.set(name, password, options.builders);
    return { unregister: () => this.unregister(name) };
  }

  /** Refuses `name` from now on and drops its connection if there is one. */
  unregister(name: string): void {
    this.registrations.delete(name);
    this.hooks.onUnregistered?.(name);
    const connection = this.registry.loggedIn.get(name);
    if (connection !== undefined) {
      this.logger.info({ worker: name }, 'worker unregistered; dropping its connection');
      connection.loseConnection(new LoginRefusedError(`worker '${name}' was unregistered`));
    }
  }

  /** Whether `name` is registered now. */
  isRegistered(name: string): boolean {
    return this.registrations.get(name) !== undefined;
  }

  /** Whether the password is right for the name (an unknown name costs the same and fails the same). */
  checkCredentials(name: string, password: string): boolean {
    return this.registrations.check(name, password) !== undefined;
  }

  /**
   * Checks a login from `address` under the throttle: the answer may be held back (a 'throttled'
   * refusal says so, then the credentials are checked as usual) or refused at once. Every refusal
   * is logged and published; the caller only writes its protocol's answer.
   */
  async authenticate(address: string, name: string, password: string): Promise<LoginVerdict> {
    const host = peerHost(address);
    const ticket = this.throttle.admit(host, name);
    if (ticket.refused) {
      const refusal = { reason: 'throttled', address, workerName: name, delayMs: 0 } as const;
      this.refusals.refuse(refusal, 'login refused unchecked: too many failed logins');
      return 'throttled';
    }
    if (ticket.delayMs > 0) {
      const delayMs = Math.ceil(ticket.delayMs);
      const refusal = { reason: 'throttled', address, workerName: name, delayMs } as const;
      this.refusals.refuse(refusal, `login answer held back ${delayMs} ms: too many failed logins`);
      await sleep(delayMs, undefined, { ref: false });
    }
    const known = this.isRegistered(name);
    if (this.checkCredentials(name, password)) {
      this.throttle.succeeded(host, name);
      return 'accepted';
    }
    this.throttle.failed(host, name);
    const reason = known ? 'bad-credentials' : 'unknown-worker';
    this.refusals.refuse({ reason, address, workerName: name }, known ? 'login refused: wrong password' : 'login refused: no such worker');
    return reason;
  }

  /** A connection that presented no credentials in time. */
  refuseLate(address: string, timeoutMs: number): void {
    this.refusals.refuse({ reason: 'login-deadline', address }, `connection closed: no login within ${timeoutMs} ms`);
  }

  /**
   * Admits a worker whose credentials were checked: after any earlier login of the name and the
   * duplicate rule, `create` builds its connection, which is registered until it detaches. Rejects
   * with LoginRefusedError (logged and published as 'not-admitted') if the old connection is alive,
   * the name was unregistered meanwhile, or the transport closed while waiting.
   */
  admit(address: string, name: string, transportClosed: () => boolean, create: (registration: StoredRegistration) => C): Promise<C> {
    const admitted = this.duplicates.serialise(name, async () => {
      const old = this.registry.loggedIn.get(name);
      if (old !== undefined) await this.duplicates.settle(name, old);
      // The registration may have gone while we waited for the old connection.
      const registration = this.registrations.get(name);
      if (registration === undefined) throw new LoginRefusedError(`worker '${name}' was unregistered`);
      if (transportClosed()) throw new LoginRefusedError('the transport closed during login');
      const connection = create(registration);
      this.registry.loggedIn.set(name, connection);
      connection.notifyOnDisconnect((reason) => {
        this.hooks.onDetached?.(connection, reason);
        this.registry.withdraw(connection, reason);
      });
      return connection;
    });
    admitted.catch((error: unknown) =>
      this.refusals.refuse({ reason: 'not-admitted', address, workerName: name }, `worker not admitted: ${(error as Error).message}`),
    );
    return admitted;
  }

  /** Runs the handshake, then `beforePublish`, then publishes the worker as attached. */
  handshake(connection: C, beforePublish: (connection: C) => Promise<void> = async () => undefined): void {
    connection
      .attach()
      .then(() => beforePublish(connection))
      .then(
        () => this.registry.publishAttached(connection),
        (error: unknown) => this.logger.warn({ worker: connection.name, err: error }, 'handshake failed'),
      );
  }

  /** Once the transports are gone: waits for every connection to detach, then ends `workers$`. */
  async drain(): Promise<void> {
    await Promise.all([...this.registry.loggedIn.values()].map((connection) => connection.detached));
    this.registry.complete();
    this.refusals.complete();
  }
}
