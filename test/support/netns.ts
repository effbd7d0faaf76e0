/**
 * Network namespaces for tests that need several hosts on one machine: a private /24 behind a
 * bridge in the root namespace (10.233.N.1) and one namespace per host, each with a veth into the
 * bridge and its own address (10.233.N.2, .3, …). Nothing is routed anywhere: the subnet is reachable
 * from the root namespace and between the hosts only, so no traffic leaves the machine.
 *
 * Everything a lab makes is named after this process's pid (`ampstate-<pid><k>-<i>`, `asb<pid><k>`)
 * and removed by `remove()`, which each test calls in afterAll; a run killed before its afterAll
 * leaves names whose pid is dead, and the next lab sweeps exactly those.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerAvailability } from './describe-with-peer.js';
import { isProcessAlive } from '../../actors/process-identity.js';

/** The third octet of 10.233.N.0/24 is taken under this directory (one entry per subnet, holding the owner's pid). */
const SUBNET_LOCKS = join(tmpdir(), 'ampstate-netns-subnets');
const NAMESPACE_PATTERN = /^ampstate-(\d+)[a-z]-\d+$/;
const BRIDGE_PATTERN = /^asb(\d+)[a-z]$/;

/** One host of a lab: a namespace with its own address. */
export interface NamespaceHost {
  /** The namespace, as `ip netns exec` takes it. */
  readonly namespace: string;
  /** This host's address, as the other hosts and the root namespace see it. */
  readonly address: string;
  /** The veth end in the root namespace (deleting it cuts the host off). */
  readonly hostInterface: string;
}

/** Runs `ip …` (or any command) and throws with its stderr when it fails. */
function run(command: string, args: readonly string[]): string {
  const result = spawnSync(command, [...args], { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) {
    const why = (result.stderr || result.error?.message || `signal ${result.signal}`).trim();
    throw new Error(`${command} ${args.join(' ')} failed: ${why}`);
  }
  return result.stdout;
}

/** Like run, for teardown: a failure is returned, not thrown, so one leftover does not stop the rest. */
function attempt(command: string, args: readonly string[]): string | undefined {
  try {
    run(command, args);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

const alive = (pid: number): boolean => isProcessAlive(pid, 0);

/** The pids of the processes living in a namespace (`ip netns pids`). */
export function namespacePids(namespace: string): number[] {
  const result = spawnSync('ip', ['netns', 'pids', namespace], { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) return [];
  return result.stdout.split(/\s+/).filter((text) => text !== '').map(Number);
}

/** SIGKILLs every process in the namespace: the host dies as a machine does, sockets reset by the kernel. */
export function killNamespaceProcesses(namespace: string): number[] {
  const pids = namespacePids(namespace);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  return pids;
}

let probed: PeerAvailability | undefined;

/**
 * Whether this machine lets a test make namespaces, a bridge and veth pairs: root, `ip` on PATH, and a
 * real attempt (a container may have `ip` and root but no CAP_NET_ADMIN). Checked once per process.
 */
export function netnsAvailability(): PeerAvailability {
  probed ??= probeNetns();
  return probed;
}

function probeNetns(): PeerAvailability {
  if (process.platform !== 'linux') return { available: false, reason: `network namespaces are Linux only (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { available: false, reason: 'making network namespaces needs root' };
  const ip = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (ip.error !== undefined) return { available: false, reason: '`ip` not found (apt-get install iproute2)' };
  let lab: NetnsLab | undefined;
  try {
    lab = NetnsLab.create(1);
    return { available: true, reason: 'root with ip netns, bridge and veth' };
  } catch (error) {
    return { available: false, reason: `cannot make a network namespace here: ${(error as Error).message.split('\n')[0]}` };
  } finally {
    lab?.remove();
  }
}

// Vitest runs each test file in its own process; the random start keeps two labs of one process apart anyway.
let labsMade = Math.floor(Math.random() * 26);

/** A bridge in the root namespace and `hosts` namespaces attached to it, each with its own address. */
export class NetnsLab {
  private removed = false;

  private constructor(
    /** The root namespace's address on the lab subnet: where servers listen for the hosts. */
    readonly hostAddress: string,
    readonly bridge: string,
    readonly hosts: readonly NamespaceHost[],
    private readonly subnetLock: string,
  ) {}

  /**
   * Makes the lab (synchronously, so a failure part way is undone before throwing). Sweeps what a
   * killed earlier run of these tests left behind first.
   */
  static create(hostCount: number): NetnsLab {
    sweepDeadRuns();
    const tag = `${process.pid}${String.fromCharCode(97 + (labsMade++ % 26))}`;
    const { octet, lock } = takeSubnet();
    const bridge = `asb${tag}`;
    const hosts: NamespaceHost[] = [];
    const subnet = `10.233.${octet}`;
    const lab = new NetnsLab(`${subnet}.1`, bridge, hosts, lock);
    try {
      run('ip', ['link', 'add', bridge, 'type', 'bridge']);
      run('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', bridge]);
      run('ip', ['link', 'set', bridge, 'up']);
      for (let index = 0; index < hostCount; index++) {
        const host = { namespace: `ampstate-${tag}-${index + 1}`, address: `${subnet}.${index + 2}`, hostInterface: `ash${tag}${index + 1}` };
        run('ip', ['netns', 'add', host.namespace]);
        hosts.push(host);
        // Made inside the namespace under a plain name; deleting either end deletes the pair.
        run('ip', ['link', 'add', host.hostInterface, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.namespace]);
        run('ip', ['link', 'set', host.hostInterface, 'master', bridge]);
        run('ip', ['link', 'set', host.hostInterface, 'up']);
        run('ip', ['-n', host.namespace, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
        run('ip', ['-n', host.namespace, 'link', 'set', 'eth0', 'up']);
        run('ip', ['-n', host.namespace, 'link', 'set', 'lo', 'up']);
      }
    } catch (error) {
      lab.remove();
      throw error;
    }
    return lab;
  }

  /** `ip netns exec NS command …args`: `ip` execs the command, so the child's pid is the command's. */
  spawnIn(host: NamespaceHost, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', host.namespace, command, ...args], options);
  }

  /** Cuts a host off the bridge without telling anyone: no FIN, no RST, its packets just stop. */
  disconnect(host: NamespaceHost): void {
    run('ip', ['link', 'del', host.hostInterface]);
  }

  /**
   * Kills what runs in the namespaces, deletes their veth pairs, the namespaces and the bridge, and
   * frees the subnet. Idempotent; throws once at the end naming whatever it could not remove.
   */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    const problems: string[] = [];
    for (const host of this.hosts) {
      killNamespaceProcesses(host.namespace);
      // Deleting a namespace frees its veth pairs later, in the kernel's own time: a busy machine
      // still lists the root end for a moment. Deleting the pair first is synchronous.
      const vethProblem = attempt('ip', ['link', 'del', host.hostInterface]);
      if (vethProblem !== undefined && linkExists(host.hostInterface)) problems.push(vethProblem);
      const problem = attempt('ip', ['netns', 'del', host.namespace]);
      if (problem !== undefined && namespaceExists(host.namespace)) problems.push(problem);
    }
    const problem = attempt('ip', ['link', 'del', this.bridge]);
    if (problem !== undefined && linkExists(this.bridge)) problems.push(problem);
    rmSync(this.subnetLock, { force: true, recursive: true });
    if (problems.length > 0) throw new Error(`could not remove the network lab:\n${problems.join('\n')}`);
  }
}

function namespaceExists(namespace: string): boolean {
  return listNamespaces().includes(namespace);
}

function linkExists(name: string): boolean {
  return spawnSync('ip', ['link', 'show', name], { encoding: 'utf8' }).status === 0;
}

function listNamespaces(): string[] {
  const result = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  // Lines look like `name` or `name (id: 3)`.
  return (result.stdout ?? '').split('\n').map((line) => line.split(' ')[0] ?? '').filter((name) => name !== '');
}

/**
 * A free 10.233.N.0/24: one not on any interface and not locked by a live process (two test files
 * make labs at the same time). The lock is a directory, made atomically.
 */
function takeSubnet(): { octet: number; lock: string } {
  mkdirSync(SUBNET_LOCKS, { recursive: true });
  const inUse = run('ip', ['-4', '-o', 'addr', 'show']);
  const start = process.pid % 200;
  for (let offset = 0; offset < 250; offset++) {
    const octet = ((start + offset) % 250) + 1;
    if (inUse.includes(` 10.233.${octet}.`)) continue;
    const lock = join(SUBNET_LOCKS, String(octet));
    try {
      mkdirSync(lock);
    } catch {
      continue;
    }
    writeFileSync(join(lock, 'pid'), String(process.pid));
    return { octet, lock };
  }
  throw new Error('no free 10.233.N.0/24 subnet for a network lab');
}

/** Removes namespaces, bridges and subnet locks of lab owners that are no longer alive. */
function sweepDeadRuns(): void {
  for (const namespace of listNamespaces()) {
    const owner = NAMESPACE_PATTERN.exec(namespace)?.[1];
    if (owner === undefined || alive(Number(owner))) continue;
    killNamespaceProcesses(namespace);
    attempt('ip', ['netns', 'del', namespace]);
  }
  const links = spawnSync('ip', ['-o', 'link', 'show', 'type', 'bridge'], { encoding: 'utf8' }).stdout ?? '';
  for (const match of links.matchAll(/^\d+: ([^:@]+)[:@]/gm)) {
    const name = match[1] ?? '';
    const owner = BRIDGE_PATTERN.exec(name)?.[1];
    if (owner !== undefined && !alive(Number(owner))) attempt('ip', ['link', 'del', name]);
  }
  let locks: string[] = [];
  try {
    locks = readdirSync(SUBNET_LOCKS);
  } catch {
    return;
  }
  for (const entry of locks) {
    const lock = join(SUBNET_LOCKS, entry);
    let owner = Number.NaN;
    try {
      owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    } catch {
      // Without its pid file a lock is being taken right now, unless it is older than any taking.
      const taken = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0;
      if (Date.now() - taken < 60_000) continue;
    }
    if (Number.isNaN(owner) || !alive(owner)) rmSync(lock, { recursive: true, force: true });
  }
}
