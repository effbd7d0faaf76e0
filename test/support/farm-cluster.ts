/**
 * A farm made of real processes from dist/bin, as an operator makes one: `ampstate master create`
 * + `master start --nodaemon`, and per worker `ampstate worker create` + `worker start --nodaemon`
 * in its own basedir. The workers run on loopback, or each on its own host: a namespace of a
 * NetnsLab, connecting from its own address to the master listening on the lab's root address.
 *
 * The admin API always listens on 127.0.0.1 in the root namespace, where the tests and the
 * `ampstate trial|exec` they run live.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from './eventually.js';
import { killNamespaceProcesses, type NamespaceHost, type NetnsLab } from './netns.js';
import { AMPSTATE_BIN, runCli } from './run-cli.js';
import { temporaryDirectory } from './temp-directory.js';

export interface FarmClusterOptions {
  /** One worker daemon per name. */
  readonly workers: readonly string[];
  /** Absent: every worker on loopback. Present: worker i on `lab.hosts[i]`. */
  readonly lab?: NetnsLab;
  /** Where the master and worker directories go (default: a fresh temporary directory). */
  readonly root?: string;
  /** More `ampstate master create` options, e.g. `--keepalive-interval 2`. */
  readonly masterCreateArguments?: readonly string[];
}

/** One worker daemon and where it runs. */
export interface FarmWorkerDaemon {
  readonly name: string;
  readonly basedir: string;
  /** The address it connects from: 127.0.0.1, or its namespace's. */
  readonly address: string;
  /** Its namespace, when the cluster runs on a lab. */
  readonly host: NamespaceHost | undefined;
  readonly process: ChildProcess;
}

/** What the admin API says about an attached worker (docs/master-service.md, GET /api/workers). */
export interface AttachedWorker {
  readonly name: string;
  readonly state: string;
  readonly attachedAt: string;
}

/** The most of a daemon's stderr kept for a failure message. */
const LOG_TAIL_BYTES = 256 * 1024;
/** How long a daemon has to exit after SIGTERM before it is SIGKILLed. */
const STOP_GRACE_MS = 10_000;

/** The environment of the daemons: the user's default log level (vitest sets `silent`), JSON lines. */
function daemonEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.AMPSTATE_LOG_LEVEL;
  return env;
}

export class FarmCluster {
  /** The admin API's base URL (`http://127.0.0.1:PORT`), known once the master has started. */
  adminUrl = '';
  /** The admin API's bearer token. */
  token = '';
  /** Where the workers connect: `tcp:ADDRESS:PORT`. */
  workersEndpoint = '';
  private readonly logs = new Map<ChildProcess, string>();
  private readonly master: ChildProcess;
  private readonly daemons: FarmWorkerDaemon[] = [];

  private constructor(
    readonly root: string,
    readonly masterDir: string,
    private readonly lab: NetnsLab | undefined,
  ) {
    this.master = this.track(spawn(process.execPath, [AMPSTATE_BIN, 'master', 'start', '--nodaemon', masterDir, '--log-format', 'json'], { env: daemonEnv(), stdio: ['ignore', 'ignore', 'pipe'] }));
  }

  /** The file holding the admin token, for `--token-file`. */
  get tokenFile(): string {
    return join(this.masterDir, 'admin-token');
  }

  /** The admin API as `ampstate … --master tcp:127.0.0.1:PORT --token-file F` takes it. */
  get adminEndpoint(): string {
    return `tcp:${this.adminUrl.replace(/^http:\/\//, '')}`;
  }

  get workers(): readonly FarmWorkerDaemon[] {
    return this.daemons;
  }

  /**
   * Creates and starts the master, then the workers, and resolves once every worker is attached.
   * A failure part way stops whatever was started before throwing.
   */
  static async start(options: FarmClusterOptions): Promise<FarmCluster> {
    if (options.lab !== undefined && options.lab.hosts.length < options.workers.length) {
      throw new Error(`${options.workers.length} workers need as many lab hosts, the lab has ${options.lab.hosts.length}`);
    }
    const root = options.root ?? temporaryDirectory('ampstate-farm-cluster-');
    const masterDir = join(root, 'master');
    const workerArguments: string[] = [];
    for (const name of options.workers) {
      const file = join(root, `${name}.password`);
      writeFileSync(file, `${randomBytes(12).toString('hex')}\n`, { mode: 0o600 });
      workerArguments.push('--worker', name, '--worker-password-file', file);
    }
    const listenOn = options.lab?.hostAddress ?? '127.0.0.1';
    const created = await runCli(AMPSTATE_BIN, ['master', 'create', masterDir, '--listen', `tcp:0:interface=${listenOn}`, '--dashboard', 'tcp:0:interface=127.0.0.1', ...workerArguments, ...(options.masterCreateArguments ?? [])]);
    if (created.code !== 0) throw new Error(`ampstate master create failed (${created.code}): ${created.stderr}`);
    const cluster = new FarmCluster(root, masterDir, options.lab);
    try {
      await cluster.awaitMaster(listenOn);
      // Settled, not all: a stop() while another worker is still being started would leave it running.
      const started = await Promise.allSettled(options.workers.map((name, index) => cluster.startWorker(name, join(root, `${name}.password`), options.lab?.hosts[index])));
      for (const outcome of started) if (outcome.status === 'rejected') throw outcome.reason;
      cluster.daemons.sort((left, right) => options.workers.indexOf(left.name) - options.workers.indexOf(right.name));
      await cluster.waitForAttached(options.workers);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  private async awaitMaster(listenOn: string): Promise<void> {
    const addressesFile = join(this.masterDir, 'master.addresses.json');
    const addresses = await eventually('the master to publish its addresses', () => {
      if (this.master.exitCode !== null) throw new Error(`ampstate master start exited (${this.master.exitCode}): ${this.logOf(this.master)}`);
      return existsSync(addressesFile) ? (JSON.parse(readFileSync(addressesFile, 'utf8')) as { workersPort: number; dashboardUrl: string }) : undefined;
    });
    this.adminUrl = addresses.dashboardUrl.replace(/\/$/, '');
    this.token = readFileSync(this.tokenFile, 'utf8').trim();
    this.workersEndpoint = `tcp:${listenOn}:${addresses.workersPort}`;
  }

  private async startWorker(name: string, passwordFile: string, host: NamespaceHost | undefined): Promise<void> {
    const basedir = join(this.root, name);
    const created = await runCli(AMPSTATE_BIN, ['worker', 'create', basedir, this.workersEndpoint, name, '--password-file', passwordFile]);
    if (created.code !== 0) throw new Error(`ampstate worker create ${name} failed (${created.code}): ${created.stderr}`);
    const args = [AMPSTATE_BIN, 'worker', 'start', '--nodaemon', basedir, '--log-format', 'json'];
    const options = { env: daemonEnv(), stdio: ['ignore', 'ignore', 'pipe'] as ['ignore', 'ignore', 'pipe'] };
    const child = this.track(host !== undefined && this.lab !== undefined ? this.lab.spawnIn(host, process.execPath, args, options) : spawn(process.execPath, args, options));
    this.daemons.push({ name, basedir, address: host?.address ?? '127.0.0.1', host, process: child });
  }

  private track(child: ChildProcess): ChildProcess {
    this.logs.set(child, '');
    child.stderr?.setEncoding('utf8').on('data', (text: string) => this.logs.set(child, ((this.logs.get(child) ?? '') + text).slice(-LOG_TAIL_BYTES)));
    return child;
  }

  /** The tail of what a daemon logged (JSON lines), for failure messages. */
  logOf(child: ChildProcess | string): string {
    const target = typeof child === 'string' ? this.worker(child).process : child;
    return this.logs.get(target) ?? '';
  }

  worker(name: string): FarmWorkerDaemon {
    const daemon = this.daemons.find((candidate) => candidate.name === name);
    if (daemon === undefined) throw new Error(`no worker ${name} in this cluster`);
    return daemon;
  }

  /**
   * Which worker daemon a process runs under, from its ancestry (pids up to init): the daemon's
   * name, or undefined for a process outside the farm (a local trial worker).
   */
  daemonAmong(ancestors: readonly number[]): string | undefined {
    return this.daemons.find((daemon) => daemon.process.pid !== undefined && ancestors.includes(daemon.process.pid))?.name;
  }

  /** A request to the admin API with the bearer token. */
  api(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.adminUrl}${path}`, { ...init, headers: { authorization: `Bearer ${this.token}`, ...init.headers } });
  }

  async attachedWorkers(): Promise<AttachedWorker[]> {
    const response = await this.api('/api/workers');
    if (!response.ok) throw new Error(`GET /api/workers: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { workers: AttachedWorker[] }).workers;
  }

  /** Resolves once every named worker is attached; a worker daemon that exits meanwhile fails it at once. */
  async waitForAttached(names: readonly string[], timeoutMs = 30_000): Promise<AttachedWorker[]> {
    return eventually(
      `workers ${names.join(', ')} to attach`,
      async () => {
        for (const daemon of this.daemons) {
          if (names.includes(daemon.name) && daemon.process.exitCode !== null) throw new Error(`worker ${daemon.name} exited (${daemon.process.exitCode}): ${this.logOf(daemon.process)}`);
        }
        const attached = await this.attachedWorkers();
        return names.every((name) => attached.some((worker) => worker.name === name)) ? attached : undefined;
      },
      timeoutMs,
    );
  }

  /**
   * The worker's host dies: in a namespace every process there is SIGKILLed; on loopback the daemon
   * and all its descendants (the commands it runs) are. The kernel closes their sockets, as a
   * machine's crash would not; `NetnsLab.disconnect` is the silent kind.
   */
  killHost(name: string): void {
    const daemon = this.worker(name);
    if (daemon.host !== undefined) {
      killNamespaceProcesses(daemon.host.namespace);
      return;
    }
    const pid = daemon.process.pid;
    if (pid === undefined) return;
    for (const victim of [pid, ...descendantsOf(pid)]) {
      try {
        process.kill(victim, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  /** SIGTERM to the workers, then the master; SIGKILL to whatever outlives the grace period. */
  async stop(): Promise<void> {
    await Promise.all(this.daemons.map((daemon) => terminate(daemon.process)));
    await terminate(this.master);
  }
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((settle) => child.once('exit', () => settle()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await gone;
  clearTimeout(timer);
}

/** Every process below `pid`, from /proc (a snapshot: good enough to kill a tree that is not forking). */
function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so split after the last ')'.
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}
