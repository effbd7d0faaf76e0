/**
 * bench/scale: one master (an AmpListener in this process) and N ampstate worker sessions over real
 * loopback TCP, for N = 1,000 and 10,000 (`npm run bench -- scale [--workers N]`). The workers run
 * in child processes of at most 5,000 each (bench/scale-workers.ts): one process holding both ends
 * of 10,000 connections would need 20,000 descriptors, `ulimit -n` here. Measured:
 *
 *   register     from spawning the workers until the master has published all N as attached
 *   master RSS   and heap (after a full GC), and its file descriptors, with all N attached
 *   stat         one `stat` RemoteCommand to every worker at once: time and failures
 *   shell true   `shell true` on every worker, SHELL_CONCURRENCY at a time (N processes are spawned);
 *                AMPSTATE_BENCH_SCALE_SHELL=M limits it to the first M workers on a slow machine
 *
 * Times are wall clock; the master's CPU seconds are given too, as they hold on a busy machine.
 * Goals for 10,000: registered in < 30 s, master RSS < 1 GB, the stat fan-out < 10 s, no failures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { AmpListener } from '../actors/master/listener.js';
import type { MasterConnection } from '../actors/master/master-connection.js';
import { RemoteCommand } from '../actors/master/remote-command.js';
import { formatTable } from './support/measure.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const WORKERS_SCRIPT = join(HERE, 'scale-workers.js');
const DEFAULT_SIZES = [1_000, 10_000];
const WORKERS_PER_PROCESS = 5_000;
/** `shell true` commands in flight at once: each is a process spawned on a shared 2-core machine. */
const SHELL_CONCURRENCY = 64;
const PASSWORD = 'scale';
const BUILDER = 'b';
const quiet = pino({ level: 'silent' });

interface FanOut {
  readonly workers: number;
  readonly seconds: number;
  /** This process's (the master's) CPU time during the fan-out. */
  readonly cpu_s: number;
  readonly failures: number;
}

export interface ScaleResult {
  readonly workers: number;
  readonly register_s: number;
  /** The master's CPU time while the workers registered. */
  readonly register_cpu_s: number;
  readonly master_rss_mb: number;
  readonly master_heap_mb: number;
  readonly master_fds: number;
  readonly worker_processes: number;
  readonly worker_fds: number;
  readonly worker_rss_mb: number;
  readonly stat: FanOut;
  readonly shell_true: FanOut;
  readonly failures: number;
}

interface WorkerProcess {
  readonly child: ChildProcess;
  /** The child's last report, `{ attached, fds, rss }`, once all its workers are attached. */
  readonly ready: Promise<{ attached: number; fds: number; rss: number }>;
}

function startWorkerProcess(port: number, first: number, count: number, basedir: string): WorkerProcess {
  const child = spawn(
    process.execPath,
    [WORKERS_SCRIPT, '--port', String(port), '--first', String(first), '--count', String(count), '--basedir', basedir, '--password', PASSWORD],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const ready = new Promise<{ attached: number; fds: number; rss: number }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const report = JSON.parse(line) as { attached?: number; fds: number; rss: number };
      if (report.attached !== undefined) resolve(report as { attached: number; fds: number; rss: number });
    });
    child.once('exit', (code) => reject(new Error(`worker process exited with ${code} before all its workers attached`)));
  });
  return { child, ready };
}

function stopWorkerProcess(worker: WorkerProcess): Promise<void> {
  return new Promise((resolve) => {
    if (worker.child.exitCode !== null) return resolve();
    worker.child.once('exit', () => resolve());
    worker.child.stdin!.end();
  });
}

/** Runs `command` on every worker, `concurrency` at a time; a failure is anything but rc 0. */
async function fanOut(workers: readonly MasterConnection[], concurrency: number, command: () => RemoteCommand): Promise<FanOut> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  let failures = 0;
  let next = 0;
  const lane = async () => {
    while (next < workers.length) {
      const worker = workers[next++]!;
      const result = await command().run(worker, BUILDER);
      if (result.rc !== 0 || result.failure !== undefined) failures++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, workers.length) }, lane));
  return { workers: workers.length, seconds: (performance.now() - started) / 1000, cpu_s: cpuSeconds(process.cpuUsage(cpu)), failures };
}

function cpuSeconds(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6;
}

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

async function runScale(size: number): Promise<ScaleResult> {
  const basedir = mkdtempSync(join(tmpdir(), 'ampstate-scale-'));
  const registrations = Object.fromEntries(
    Array.from({ length: size }, (_, i) => [`w${i}`, { password: PASSWORD, builders: [[BUILDER, BUILDER]] as [string, string][] }]),
  );
  const listener = new AmpListener({
    endpoint: 'tcp:0:interface=127.0.0.1',
    registrations,
    logger: quiet,
    maxConnections: size + 100,
  });
  const { port } = await listener.start();
  const allAttached = new Promise<void>((resolve) => {
    listener.workers$.subscribe((event) => {
      if (event.current.size === size) resolve();
    });
  });
  const processes: WorkerProcess[] = [];
  try {
    const started = performance.now();
    const cpu = process.cpuUsage();
    for (let first = 0; first < size; first += WORKERS_PER_PROCESS) {
      processes.push(startWorkerProcess(port, first, Math.min(WORKERS_PER_PROCESS, size - first), basedir));
    }
    await allAttached;
    const registerSeconds = (performance.now() - started) / 1000;
    const registerCpu = cpuSeconds(process.cpuUsage(cpu));
    const reports = await Promise.all(processes.map((worker) => worker.ready));
    const rss = process.memoryUsage().rss;
    collectGarbage();
    const heap = process.memoryUsage().heapUsed;
    const masterFds = readdirSync('/proc/self/fd').length;

    const workers = [...listener.current.values()];
    const stat = await fanOut(workers, workers.length, () => new RemoteCommand('stat', { file: '.' }, { logger: quiet }));
    const shellWorkers = workers.slice(0, Number(process.env.AMPSTATE_BENCH_SCALE_SHELL ?? workers.length));
    const shell = await fanOut(shellWorkers, SHELL_CONCURRENCY, () => new RemoteCommand('shell', { command: 'true', workdir: BUILDER }, { logger: quiet }));
    return {
      workers: size,
      register_s: registerSeconds,
      register_cpu_s: registerCpu,
      master_rss_mb: rss / 1e6,
      master_heap_mb: heap / 1e6,
      master_fds: masterFds,
      worker_processes: processes.length,
      worker_fds: reports.reduce((sum, report) => sum + report.fds, 0),
      worker_rss_mb: reports.reduce((sum, report) => sum + report.rss, 0) / 1e6,
      stat,
      shell_true: shell,
      failures: stat.failures + shell.failures,
    };
  } finally {
    await Promise.all(processes.map(stopWorkerProcess));
    await listener.stop();
    rmSync(basedir, { recursive: true, force: true });
  }
}

function table(results: readonly ScaleResult[]): string {
  const rows = results.map((r) => [
    String(r.workers),
    `${r.register_s.toFixed(1)} (${r.register_cpu_s.toFixed(1)})`,
    r.master_rss_mb.toFixed(0),
    r.master_heap_mb.toFixed(0),
    String(r.master_fds),
    `${r.worker_fds} in ${r.worker_processes}`,
    `${r.stat.seconds.toFixed(1)} (${r.stat.cpu_s.toFixed(1)}) / ${r.stat.failures}`,
    `${r.shell_true.workers}: ${r.shell_true.seconds.toFixed(1)} (${r.shell_true.cpu_s.toFixed(1)}) / ${r.shell_true.failures}`,
    String(r.failures),
  ]);
  return formatTable(
    [
      'workers',
      'register s (CPU)',
      'master RSS MB',
      'heap MB',
      'master fds',
      'worker fds',
      'stat s (CPU) / failed',
      `shell true on n, ${SHELL_CONCURRENCY} at once: s (CPU) / failed`,
      'failures',
    ],
    rows,
  );
}

export async function run(options: { json: boolean; workers?: number }): Promise<Record<string, unknown>> {
  const sizes = options.workers === undefined ? DEFAULT_SIZES : [options.workers];
  const results: ScaleResult[] = [];
  for (const size of sizes) results.push(await runScale(size));
  if (!options.json) process.stdout.write(`${table(results)}\n`);
  return Object.fromEntries(results.map((result) => [`workers_${result.workers}`, result]));
}
