/**
 * A configured master in this process: the AMP listener (and the msgpack one when configured)
 * with the config's workers, the farm's event bus fed from both, and the admin server on the
 * dashboard endpoint. `reload` applies a new config's workers without dropping the ones that stay.
 * The process around it (pidfile, log, signals) is run-service.ts.
 */
import { mkdir } from 'node:fs/promises';
import type { Logger } from '../../logger.js';
import { createAdminServer, type AdminServer, type RegisterDashboard } from '../admin/http-server.js';
import { ADMIN_BUILDER } from '../admin/farm-control.js';
import type { WorkerProtocol } from '../admin/farm-events.js';
import { ListenerFarm, type WatchedListener } from '../admin/listener-farm.js';
import type { BuilderList } from '../connection-api.js';
import { AmpListener } from '../listener.js';
import { MsgpackListener } from '../msgpack/listener.js';
import { PasswordHash } from '../password-hash.js';
import type { ListenerAddress, Registration } from '../worker-admission.js';
import { ampListenEndpoint, resolvedMasterBasedir, type MasterServiceConfig } from './config.js';

/** What the service needs of either listener. */
interface WorkerListener extends WatchedListener {
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

function buildersOf(entry: MasterServiceConfig['workers'][string]): BuilderList {
  const own = (entry.builders ?? []).filter(([name]) => name !== ADMIN_BUILDER);
  return [[ADMIN_BUILDER, ADMIN_BUILDER], ...own];
}

export class MasterService {
  /** The farm the admin server and the dashboard see. */
  readonly farm: ListenerFarm;
  readonly logger: Logger;
  private readonly listeners = new Map<WorkerProtocol, WorkerListener>();
  private admin: AdminServer | undefined;
  private workerNames = new Set<string>();

  constructor(private readonly options: MasterServiceOptions) {
    this.logger = options.logger;
    this.farm = new ListenerFarm(resolvedMasterBasedir(options.dir, options.config), options.logger);
    const inspect = this.farm.events.inspector();
    const { keepaliveIntervalSeconds: interval, keepaliveTimeoutSeconds: timeout } = options.config;
    const common = {
      logger: options.logger,
      inspect,
      confinePaths: false,
      ...(interval !== undefined ? { keepaliveIntervalMs: interval * 1000 } : {}),
      ...(timeout !== undefined ? { keepaliveTimeoutMs: timeout * 1000 } : {}),
    };
    this.listeners.set('amp', new AmpListener({ ...common, endpoint: ampListenEndpoint(options.config) }));
    if (options.config.msgpack !== undefined) this.listeners.set('msgpack', new MsgpackListener({ ...common, endpoint: options.config.msgpack }));
    this.applyWorkers(options.config);
  }

  async start(): Promise<MasterServiceAddresses> {
    await mkdir(this.farm.stagingDirectory, { recursive: true, mode: 0o700 });
    for (const [protocol, listener] of this.listeners) this.farm.watch(protocol, listener);
    const amp = await this.listeners.get('amp')!.start();
    const msgpack = await this.listeners.get('msgpack')?.start();
    let dashboardUrl: string | undefined;
    if (this.options.config.dashboard !== undefined) {
      this.admin = await createAdminServer({
        farm: this.farm,
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
    this.farm.close();
  }

  /** Registers every worker of `config` (a connected worker stays connected). */
  private applyWorkers(config: MasterServiceConfig): void {
    for (const [name, entry] of Object.entries(config.workers)) {
      const hash = PasswordHash.parse(entry.passwordHash);
      for (const listener of this.listeners.values()) listener.updateRegistration(name, hash, { builders: buildersOf(entry) });
    }
    this.workerNames = new Set(Object.keys(config.workers));
  }
}
