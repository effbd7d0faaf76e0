/**
 * A configured master in this process: the AMP listener (and the msgpack one when configured)
 * with the config's workers, the farm's event bus fed from both, and the admin server on the
 * dashboard endpoint. `reload` applies a new config's workers without dropping the ones that stay.
 * The process around it (pidfile, log, signals) is run-service.ts.
 */
import { mkdir } from 'node:fs/promises';
import type { Observable, Subscription } from 'rxjs';
import type { Logger } from '../../logger.js';
import type { Refusal } from '../../refusals.js';
import { createAdminServer, type AdminServer, type RegisterDashboard } from '../admin/http-server.js';
import { ADMIN_BUILDER, type FarmControl } from '../admin/farm-control.js';
import { FarmEventBus, type WorkerProtocol } from '../admin/farm-events.js';
import type { BaseConnection } from '../base-connection.js';
import type { BuilderList, Connection, WorkerInfo } from '../connection-api.js';
import { AmpListener } from '../listener.js';
import { MsgpackListener } from '../msgpack/listener.js';
import { PasswordHash } from '../password-hash.js';
import type { ListenerAddress, Registration } from '../worker-admission.js';
import type { RegistryEvent } from '../worker-registry.js';
import { ampListenEndpoint, resolvedMasterBasedir, type MasterServiceConfig } from './config.js';

/** What the service needs of either listener. */
interface WorkerListener {
  readonly current: ReadonlyMap<string, BaseConnection>;
  readonly workers$: Observable<RegistryEvent<BaseConnection>>;
  readonly refusals$: Observable<Refusal>;
  start(): Promise<ListenerAddress>;
  stop(): Promise<void>;
  updateRegistration(name: string, password: string | PasswordHash, options?: { readonly builders?: BuilderList }): Registration;
  unregister(name: string): void;
}

export interface MasterServiceOptions {
  /** The master's directory (relative paths of the config start there). */
  readonly dir: string;
  readonly config: MasterServiceConfig;
  readonly token: string;
  readonly logger: Logger;
  /** The dashboard's routes, added to the admin server (see admin/http-server.ts). */
  readonly registerDashboard?: RegisterDashboard;
}

export interface MasterServiceAddresses {
  readonly amp: ListenerAddress;
  readonly msgpack?: ListenerAddress;
  /** The admin server's base URL, when a dashboard endpoint is configured. */
  readonly dashboardUrl?: string;
}

export interface ReloadOutcome {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly kept: readonly string[];
}

/** The worker's environment may hold secrets: it stays out of what the API and dashboard show. */
function withoutEnvironment(info: WorkerInfo | undefined): WorkerInfo | undefined {
  if (info === undefined) return undefined;
  const { environ: _environ, ...rest } = info;
  return rest;
}

function buildersOf(entry: MasterServiceConfig['workers'][string]): BuilderList {
  const own = (entry.builders ?? []).filter(([name]) => name !== ADMIN_BUILDER);
  return [[ADMIN_BUILDER, ADMIN_BUILDER], ...own];
}

export class MasterService implements FarmControl {
  readonly events = new FarmEventBus();
  readonly logger: Logger;
  readonly stagingDirectory: string;
  private readonly listeners = new Map<WorkerProtocol, WorkerListener>();
  private readonly subscriptions: Subscription[] = [];
  private admin: AdminServer | undefined;
  private workerNames = new Set<string>();

  constructor(private readonly options: MasterServiceOptions) {
    this.logger = options.logger;
    this.stagingDirectory = resolvedMasterBasedir(options.dir, options.config);
    const inspect = this.events.inspector();
    const common = { logger: options.logger, inspect, confinePaths: false };
    this.listeners.set('amp', new AmpListener({ ...common, endpoint: ampListenEndpoint(options.config) }));
    if (options.config.msgpack !== undefined) this.listeners.set('msgpack', new MsgpackListener({ ...common, endpoint: options.config.msgpack }));
    this.applyWorkers(options.config);
  }

  connection(name: string): Connection | undefined {
    for (const listener of this.listeners.values()) {
      const connection = listener.current.get(name);
      if (connection !== undefined) return connection;
    }
    return undefined;
  }

  attachedNames(): readonly string[] {
    return this.events.workers().map((worker) => worker.name);
  }

  async start(): Promise<MasterServiceAddresses> {
    await mkdir(this.stagingDirectory, { recursive: true, mode: 0o700 });
    for (const [protocol, listener] of this.listeners) this.watch(protocol, listener);
    const amp = await this.listeners.get('amp')!.start();
    const msgpack = await this.listeners.get('msgpack')?.start();
    let dashboardUrl: string | undefined;
    if (this.options.config.dashboard !== undefined) {
      this.admin = await createAdminServer({
        farm: this,
        token: this.options.token,
        endpoint: this.options.config.dashboard,
        tokenOnLoopback: this.options.config.tokenOnLoopback,
        logger: this.logger,
        registerDashboard: this.options.registerDashboard,
      });
      dashboardUrl = await this.admin.listen();
      this.logger.info({ url: dashboardUrl }, 'admin server listening');
    }
    return { amp, ...(msgpack !== undefined ? { msgpack } : {}), ...(dashboardUrl !== undefined ? { dashboardUrl } : {}) };
  }

  /** Applies a new config's workers: new ones are registered, gone ones unregistered (and dropped). */
  reload(config: MasterServiceConfig): ReloadOutcome {
    const before = this.workerNames;
    this.applyWorkers(config);
    const after = this.workerNames;
    const removed = [...before].filter((name) => !after.has(name));
    for (const name of removed) for (const listener of this.listeners.values()) listener.unregister(name);
    const outcome = { added: [...after].filter((name) => !before.has(name)), removed, kept: [...after].filter((name) => before.has(name)) };
    this.logger.info(outcome, 'configuration reloaded');
    return outcome;
  }

  async stop(): Promise<void> {
    await this.admin?.close();
    await Promise.all([...this.listeners.values()].map((listener) => listener.stop()));
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.events.complete();
  }

  /** Registers every worker of `config` (a connected worker stays connected). */
  private applyWorkers(config: MasterServiceConfig): void {
    for (const [name, entry] of Object.entries(config.workers)) {
      const hash = PasswordHash.parse(entry.passwordHash);
      for (const listener of this.listeners.values()) listener.updateRegistration(name, hash, { builders: buildersOf(entry) });
    }
    this.workerNames = new Set(Object.keys(config.workers));
  }

  private watch(protocol: WorkerProtocol, listener: WorkerListener): void {
    this.subscriptions.push(
      listener.workers$.subscribe((event) => {
        if (event.type === 'attached') {
          const { connection } = event;
          this.events.publish({
            type: 'worker-attached',
            at: new Date(),
            worker: { name: event.name, protocol, state: connection.state, info: withoutEnvironment(connection.info), attachedAt: new Date() },
          });
        } else if (event.type === 'detached') {
          this.events.publish({ type: 'worker-detached', at: new Date(), name: event.name, reason: event.reason.message });
        }
      }),
      listener.refusals$.subscribe((refusal) => this.events.publish({ type: 'refusal', at: refusal.at, refusal })),
    );
  }
}
