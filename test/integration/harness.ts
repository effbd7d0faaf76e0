/**
 * Integration harness: the master is a real {@link Listener} in the test process on loopback TCP,
 * each worker a real `ampstate worker` child process (the compiled CLI in dist/, as users run it).
 *
 * - `startMaster` listens on 127.0.0.1 (port 0 unless given) with short output buffering.
 * - `WorkerProcess.spawn` starts `node bin/ampstate.js worker …` and keeps its pino log lines.
 * - `waitAttached` resolves with the MasterConnection once `listener.workers$` says `attached`.
 * - `processGone` / `waitGone` check for orphaned processes, counting zombies as gone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { filter, firstValueFrom, map, timeout } from 'rxjs';
import { DEFAULT_WORKER_SETTINGS } from '../../actors/master/base-connection.js';
import { Listener, type ListenerOptions } from '../../actors/master/listener.js';
import type { MasterConnection } from '../../actors/master/master-connection.js';
import { RemoteCommand, type RemoteCommandResult, type RemoteUpdate } from '../../actors/master/remote-command.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(REPO, 'bin', 'ampstate.js');
const BUILT_CLI = join(REPO, 'dist', 'bin', 'cli.js');

/** The builder every test worker gets: `<basedir>/build-b`, commands' workdir `build` inside it. */
export const BUILDER = 'b';
export const BUILDER_DIR = 'build-b';

/** The children run dist/: without a build every test would fail in a confusing way. */
export function requireBuilt(): void {
  if (!existsSync(BUILT_CLI)) throw new Error(`${BUILT_CLI} is missing: run "npx tsc -p ." before the integration tests`);
}

export function tempRoot(prefix = 'ampstate-it-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

/** Every entry under `dir`, relative and sorted (empty when it does not exist). */
export function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

export interface MasterOptions extends Omit<ListenerOptions, 'endpoint' | 'registrations'> {
  /** Listen on this port (0: any free one). */
  readonly port?: number;
  /** name → password; each gets the builder `b` in `build-b`. */
  readonly workers?: Readonly<Record<string, string>>;
}

export interface Master {
  readonly listener: Listener;
  readonly port: number;
  readonly endpoint: string;
}

export async function startMaster(options: MasterOptions = {}): Promise<Master> {
  const { port: requestedPort = 0, workers = {}, ...rest } = options;
  const listener = new Listener({
    endpoint: `tcp:${requestedPort}:interface=127.0.0.1`,
    registrations: Object.fromEntries(
      Object.entries(workers).map(([name, password]) => [name, { password, builders: [[BUILDER, BUILDER_DIR]] as const }]),
    ),
    keepaliveIntervalMs: 0,
    // Output flushed within 50 ms rather than Buildbot's 5 s: the tests wait for streamed lines.
    workerSettings: { ...DEFAULT_WORKER_SETTINGS, bufferTimeout: 0.05 },
    ...rest,
  });
  const address = await listener.start();
  if (typeof address !== 'object' || address === null) throw new Error(`unexpected listener address ${String(address)}`);
  return { listener, port: address.port, endpoint: `tcp:127.0.0.1:${address.port}` };
}

/** The connection of `name` once it is attached (at once if it already is). */
export function waitAttached(listener: Listener, name: string, timeoutMs = 15_000): Promise<MasterConnection> {
  return firstValueFrom(
    listener.workers$.pipe(
      map((event) => (event.type === 'snapshot' ? event.current.get(name) : event.type === 'attached' && event.name === name ? event.connection : undefined)),
      filter((connection): connection is MasterConnection => connection !== undefined),
      timeout({ first: timeoutMs, with: () => Promise.reject(new Error(`worker '${name}' did not attach within ${timeoutMs} ms`)) }),
    ),
  );
}

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export interface WorkerSpawnOptions {
  readonly master: string;
  readonly name: string;
  readonly password: string;
  readonly basedir: string;
  /** Extra CLI arguments (`--max-retries 1`, `--transfer-window 1`…). */
  readonly args?: readonly string[];
}

/** One `ampstate worker` child process. */
export class WorkerProcess {
  readonly lines: LogLine[] = [];
  /** stderr text that is not a pino line (a crash trace). */
  rawStderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private partial = '';

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.take(chunk));
    child.stdout?.resume();
  }

  static spawn(options: WorkerSpawnOptions): WorkerProcess {
    requireBuilt();
    mkdirSync(options.basedir, { recursive: true });
    const passwordFile = join(options.basedir, '..', `${options.name}-${process.pid}-${Date.now()}.password`);
    writeFileSync(passwordFile, `${options.password}\n`, { mode: 0o600 });
    const child = spawn(
      process.execPath,
      [
        CLI,
        'worker',
        '--master',
        options.master,
        '--name',
        options.name,
        '--password-file',
        passwordFile,
        '--basedir',
        options.basedir,
        '--log-level',
        'info',
        ...(options.args ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AMPSTATE_LOG_LEVEL: 'info' } },
    );
    return new WorkerProcess(child);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Every log message (and any raw stderr), one per line, for assertion messages. */
  get log(): string {
    return [...this.lines.map((line) => line.msg), this.rawStderr].join('\n');
  }

  /** Resolves with the first log line matching; rejects after `timeoutMs`. */
  async waitForLog(test: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(test);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no matching worker log line within ${timeoutMs} ms; log:\n${this.log}`);
      await sleep(20);
    }
  }

  /** SIGTERM (the worker kills its commands and exits 0), SIGKILL if it takes too long. */
  async stop(timeoutMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private take(chunk: string): void {
    this.partial += chunk;
    const lines = this.partial.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        this.lines.push(JSON.parse(line) as LogLine);
      } catch {
        this.rawStderr += `${line}\n`;
      }
    }
  }
}

/** A master and one attached worker process, with their directories. */
export interface Farm {
  readonly root: string;
  readonly master: Master;
  readonly worker: WorkerProcess;
  readonly connection: MasterConnection;
  /** The worker's base directory. */
  readonly workerBase: string;
  /** `<workerBase>/build-b/build`: where `workdir: 'build'` commands run. */
  readonly buildDir: string;
  /** A directory on the master side for transfers. */
  readonly masterBase: string;
  stop(): Promise<void>;
}

export async function startFarm(options: { master?: MasterOptions; workerArgs?: readonly string[]; name?: string } = {}): Promise<Farm> {
  const root = tempRoot();
  const name = options.name ?? 'it-worker';
  const password = `pw-${name}`;
  const workerBase = join(root, 'worker');
  const masterBase = join(root, 'master');
  const buildDir = join(workerBase, BUILDER_DIR, 'build');
  mkdirSync(masterBase, { recursive: true });
  const master = await startMaster({ ...options.master, workers: { [name]: password } });
  const worker = WorkerProcess.spawn({ master: master.endpoint, name, password, basedir: workerBase, args: options.workerArgs });
  let connection: MasterConnection;
  try {
    connection = await Promise.race([
      waitAttached(master.listener, name),
      worker.exited.then(({ code }) => Promise.reject(new Error(`worker exited with ${code} before attaching:\n${worker.log}`))),
    ]);
  } catch (error) {
    await worker.stop();
    await master.listener.stop();
    removeDir(root);
    throw error;
  }
  mkdirSync(buildDir, { recursive: true });
  return {
    root,
    master,
    worker,
    connection,
    workerBase,
    buildDir,
    masterBase,
    async stop() {
      await worker.stop();
      await master.listener.stop();
      removeDir(root);
    },
  };
}

/** Runs one command on `connection`, collecting every update in order. */
export async function runCommand(
  connection: MasterConnection,
  name: string,
  args: Record<string, unknown>,
  options: {
    /** Called with every update as it arrives. */
    onUpdate?: (update: RemoteUpdate) => void;
    /** Interrupts the command at the first update for which this is true. */
    interruptAfter?: (update: RemoteUpdate) => boolean;
  } = {},
): Promise<RemoteCommandResult & { all: RemoteUpdate[]; text: (key: string) => string }> {
  const command = new RemoteCommand(name, args);
  const all: RemoteUpdate[] = [];
  let interrupted = false;
  command.updates$.subscribe((update) => {
    all.push(update);
    options.onUpdate?.(update);
    if (!interrupted && options.interruptAfter?.(update) === true) {
      interrupted = true;
      void command.interrupt('the test interrupts it');
    }
  });
  const result = await command.run(connection, BUILDER);
  const text = (key: string) =>
    all
      .filter((update) => update.key === key)
      .map((update) => String(update.value))
      .join('');
  return { ...result, all, text };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The state letter from /proc/<pid>/stat (R, S, Z…), or undefined once the process is gone. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Gone, or a zombie: killed and only waiting for a parent (maybe a container's PID 1) to reap it. */
export function processGone(pid: number): boolean {
  const state = processState(pid);
  return state === undefined || state === 'Z';
}

export async function waitGone(pids: readonly number[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter((pid) => !processGone(pid));
    if (alive.length === 0) return;
    if (Date.now() > deadline) throw new Error(`processes still running after ${timeoutMs} ms: ${alive.map((pid) => `${pid} (${processState(pid)})`).join(', ')}`);
    await sleep(50);
  }
}

/** Waits for a file to hold a pid (the shell writes it once it runs). */
export async function readPid(path: string, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(path)) {
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0) return pid;
    }
    if (Date.now() > deadline) throw new Error(`no pid in ${path} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/**
 * A shell script that records its own pid and a background child's pid, then waits: what a
 * disconnect must clean up. The child is only reached if the worker kills the whole process group.
 */
export function orphanScript(dir: string): string {
  return `echo $$ > ${join(dir, 'shell.pid')}; sleep 120 & echo $! > ${join(dir, 'child.pid')}; echo started; wait`;
}
