/**
 * bench/transfer: a 1 GiB upload (worker → master, `uploadFile`) and download
 * (master → worker, `downloadFile`) over loopback TCP between the master in this process and an
 * `ampstate worker` child process, next to raw TCP moving the same file in the same run
 * (`transfer-raw.js`: a sender child streams the file down a plain socket to a receiver child).
 *
 *   MB/s            10^6 payload bytes per second, from the start of the transfer to its result
 *                   (the ampstate figure includes starting the command and closing the file)
 *   raw TCP MB/s    the same bytes through a plain socket; the receiver writes them to a file, as
 *                   the transfer does (`raw, discarded`: the receiver drops them: the socket alone)
 *   peak RSS        master: this process, VmHWM (reset after a full GC before each transfer) and
 *                   sampled `process.memoryUsage().rss`; worker: the child's VmHWM, reset the
 *                   same way; "idle" is the RSS the transfer started from (after a GC, for the
 *                   master), "growth" the peak less idle
 *
 *   CPU s/GB        user + system CPU of both processes (master and worker; raw: sender and
 *                   receiver) per 10^9 bytes moved, median of the runs
 *
 * The file is 1 MiB of random bytes repeated (cheap to write, not sparse, not compressible), in a
 * temp directory deleted afterwards; both copies are checked against its SHA-256. Each measurement
 * is repeated (raw and ampstate interleaved, so load from other processes hits both) and the best
 * run kept.
 *
 * Environment: AMPSTATE_BENCH_TRANSFER_MB (default 1024, MiB) for quick runs,
 * AMPSTATE_BENCH_TRANSFER_REPEATS (default 2), AMPSTATE_BENCH_TRANSFER_WINDOW (the worker's
 * --transfer-window, default its own default of 16).
 *
 * Goals: ≥ 80 % of raw TCP throughput; on each side RSS grows by at most 32 MB over idle; the
 * worker's peak stays under 100 MB.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { filter, firstValueFrom, map } from 'rxjs';
import { MAX_BLOCK_SIZE } from '../codec/protocols/worker-commands.js';
import { Listener } from '../actors/master/listener.js';
import type { MasterConnection } from '../actors/master/master-connection.js';
import { downloadFile, uploadFile, type Transfer } from '../actors/master/transfers.js';
import { processCpuSeconds } from './support/process-cpu.js';
import { median } from './support/measure.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository root, whether this runs as dist/bench/transfer.js or from bench/. */
const ROOT = /[\\/]dist[\\/]bench$/.test(HERE) ? resolve(HERE, '../..') : resolve(HERE, '..');
const CLI = join(ROOT, 'bin', 'ampstate.js');
const MiB = 1024 * 1024;
const MB = 1e6;
const WORKER = 'bench-worker';
const BUILDER = 'bench';
const WORKER_PEAK_GOAL_MB = 100;
const RSS_GROWTH_GOAL_MB = 32;
const THROUGHPUT_GOAL = 0.8;

function envNumber(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}=${text}: expected a positive number`);
  return value;
}

function log(message: string): void {
  process.stderr.write(`[bench/transfer] ${message}\n`);
}

// ------------------------------------------------------------------ memory

/** VmHWM (peak RSS) of a process in bytes, from /proc. */
function peakRss(pid: number | 'self'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Resets VmHWM to the current RSS (`echo 5 > clear_refs`, Linux ≥ 4.0); false if not allowed. */
function resetPeakRss(pid: number | 'self'): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** A full GC of this process before each transfer: what the previous one left is not counted. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** Current RSS of a process in bytes, from /proc. */
function currentRss(pid: number | 'self'): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? 0 : Number(match[1]) * 1024;
}

/** Samples this process's RSS while a transfer runs. */
class RssSampler {
  peak = process.memoryUsage().rss;
  private readonly timer = setInterval(() => (this.peak = Math.max(this.peak, process.memoryUsage().rss)), 20);

  stop(): number {
    clearInterval(this.timer);
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
    return this.peak;
  }
}

// ------------------------------------------------------------------ the file

/** Writes `bytes` of a 1 MiB random block repeated; returns its SHA-256. */
function writeTestFile(path: string, bytes: number): string {
  const block = randomBytes(MiB);
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < bytes; ) {
      const piece = block.subarray(0, Math.min(MiB, bytes - written));
      for (let offset = 0; offset < piece.length; ) offset += writeSync(fd, piece, offset);
      hash.update(piece);
      written += piece.length;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: MiB }), hash);
  return hash.digest('hex');
}

// ------------------------------------------------------------------ the worker process

interface WorkerChild {
  readonly child: ChildProcess;
  readonly pid: number;
  stop(): Promise<void>;
}

function spawnWorker(endpoint: string, basedir: string, passwordFile: string): WorkerChild {
  if (!existsSync(join(ROOT, 'dist', 'bin', 'cli.js'))) throw new Error('dist/bin/cli.js is missing: run "npm run build" first');
  const window = process.env.AMPSTATE_BENCH_TRANSFER_WINDOW;
  const child = spawn(
    process.execPath,
    [
      CLI,
      'worker',
      '--master',
      endpoint,
      '--name',
      WORKER,
      '--password-file',
      passwordFile,
      '--basedir',
      basedir,
      '--log-level',
      'warn',
      ...(window === undefined ? [] : ['--transfer-window', window]),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.setEncoding('utf8').on('data', (text: string) => process.stderr.write(`[bench/transfer worker] ${text}`));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return {
    child,
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(kill);
    },
  };
}

function attached(listener: Listener, name: string, timeoutMs: number): Promise<MasterConnection> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the worker did not attach within ${timeoutMs} ms`)), timeoutMs);
  });
  const connection = firstValueFrom(
    listener.workers$.pipe(
      map((event) => (event.type === 'snapshot' ? event.current.get(name) : event.type === 'attached' && event.name === name ? event.connection : undefined)),
      filter((found): found is MasterConnection => found !== undefined),
    ),
  );
  return Promise.race([connection, timeout]).finally(() => clearTimeout(timer));
}

// ------------------------------------------------------------------ measurements

interface Measured {
  readonly seconds: number;
  readonly MBps: number;
  /** User + system CPU seconds of both ends. */
  readonly cpuSeconds: number;
}

interface AmpMeasured extends Measured {
  readonly masterRssBefore: number;
  readonly workerRssBefore: number;
  readonly masterPeakRss: number;
  readonly masterSampledRss: number;
  readonly workerPeakRss: number;
}

function measured(bytes: number, seconds: number, cpuSeconds: number): Measured {
  return { seconds, MBps: bytes / MB / seconds, cpuSeconds };
}

/** Spawns transfer-raw.js; resolves with its child and the first JSON line it prints. */
function rawChild(args: readonly string[]): { child: ChildProcess; lines: AsyncIterableIterator<Record<string, unknown>>; exited: Promise<number | null> } {
  const script = join(HERE, 'transfer-raw.js');
  if (!existsSync(script)) throw new Error(`${script} is missing: run "npm run build" first`);
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-4000)));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const queue: Array<Record<string, unknown>> = [];
  const waiting: Array<(line: IteratorResult<Record<string, unknown>>) => void> = [];
  let buffer = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    buffer += text;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffer.slice(0, newline)) as Record<string, unknown>;
      buffer = buffer.slice(newline + 1);
      const wake = waiting.shift();
      if (wake !== undefined) wake({ value: line, done: false });
      else queue.push(line);
    }
  });
  void exited.then((code) => {
    for (const wake of waiting.splice(0)) wake({ value: undefined, done: true });
    if (code !== 0) process.stderr.write(`[bench/transfer] transfer-raw ${args.join(' ')} exited ${code}: ${stderr}\n`);
  });
  const lines: AsyncIterableIterator<Record<string, unknown>> = {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      const line = queue.shift();
      if (line !== undefined) return Promise.resolve({ value: line, done: false });
      if (child.exitCode !== null) return Promise.resolve({ value: undefined, done: true });
      return new Promise((wake) => waiting.push(wake));
    },
  };
  return { child, lines, exited };
}

async function nextLine(lines: AsyncIterableIterator<Record<string, unknown>>, what: string): Promise<Record<string, unknown>> {
  const { value, done } = await lines.next();
  if (done === true || value === undefined) throw new Error(`transfer-raw ended before ${what}`);
  return value;
}

/**
 * Raw TCP: one child receives (into `dest`, or dropping the bytes), another streams `source` to
 * it. Both ends are children, so this process (the master) carries none of their memory.
 */
async function rawTransfer(source: string, bytes: number, dest: string | undefined): Promise<Measured> {
  const receiver = rawChild(dest === undefined ? ['receive'] : ['receive', dest]);
  try {
    const { port } = (await nextLine(receiver.lines, 'listening')) as { port: number };
    const sender = rawChild(['send', String(port), source]);
    const result = (await nextLine(receiver.lines, 'reporting')) as { bytes: number; seconds: number; cpu_seconds: number };
    const sent = (await nextLine(sender.lines, 'reporting')) as { cpu_seconds: number };
    if ((await sender.exited) !== 0 || (await receiver.exited) !== 0) throw new Error('transfer-raw failed');
    if (result.bytes !== bytes) throw new Error(`raw TCP moved ${result.bytes} of ${bytes} bytes`);
    return measured(bytes, result.seconds, result.cpu_seconds + sent.cpu_seconds);
  } finally {
    if (receiver.child.exitCode === null) receiver.child.kill('SIGKILL');
    if (dest !== undefined) rmSync(dest, { force: true });
  }
}

/** One ampstate transfer with its memory figures; throws unless it succeeded with every byte. */
async function ampTransfer(start: () => Transfer, bytes: number, workerPid: number): Promise<AmpMeasured> {
  collectGarbage();
  resetPeakRss('self');
  resetPeakRss(workerPid);
  const masterRssBefore = currentRss('self');
  const workerRssBefore = currentRss(workerPid);
  const sampler = new RssSampler();
  const began = performance.now();
  const cpuBefore = processCpuSeconds('self') + processCpuSeconds(workerPid);
  let result;
  try {
    result = await start().result;
  } finally {
    sampler.stop();
  }
  const seconds = (performance.now() - began) / 1000;
  const cpuSeconds = processCpuSeconds('self') + processCpuSeconds(workerPid) - cpuBefore;
  if (result.rc !== 0 || result.failure !== undefined || result.bytes !== bytes) {
    throw new Error(`transfer failed: rc=${String(result.rc)} bytes=${result.bytes}/${bytes} failure=${result.failure?.message ?? 'none'}`);
  }
  return {
    ...measured(bytes, seconds, cpuSeconds),
    masterRssBefore,
    workerRssBefore,
    masterPeakRss: Math.max(peakRss('self'), sampler.peak),
    masterSampledRss: sampler.peak,
    workerPeakRss: peakRss(workerPid),
  };
}

function best<T extends Measured>(runs: readonly T[]): T {
  return runs.reduce((a, b) => (b.MBps > a.MBps ? b : a));
}

// ------------------------------------------------------------------ report

export interface DirectionResult {
  ampstate_MBps: number;
  raw_tcp_MBps: number;
  raw_tcp_discarded_MBps: number;
  /** ampstate / raw TCP (receiver writing the file). */
  share_of_raw: number;
  master_peak_rss_MB: number;
  worker_peak_rss_MB: number;
  /** RSS just before the transfer started (after a GC, for the master): idle. */
  master_rss_before_MB: number;
  worker_rss_before_MB: number;
  /** The largest peak-less-idle of the runs. */
  master_rss_growth_MB: number;
  worker_rss_growth_MB: number;
  runs_MBps: number[];
  /** CPU seconds of both ends per 10^9 bytes (median of the runs). */
  ampstate_cpu_s_per_GB: number;
  raw_tcp_cpu_s_per_GB: number;
}

export interface TransferBenchResult extends Record<string, unknown> {
  size_bytes: number;
  blocksize: number;
  transfer_window: number;
  upload: DirectionResult;
  download: DirectionResult;
  goals: { throughput_share_met: boolean; rss_growth_met: boolean; worker_peak_met: boolean };
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const mb = (bytes: number) => round(bytes / MB, 1);

function direction(amp: readonly AmpMeasured[], raw: readonly Measured[], discarded: readonly Measured[], bytes: number): DirectionResult {
  const cpuPerGB = (runs: readonly Measured[]) => round(median(runs.map((run) => run.cpuSeconds)) / (bytes / 1e9), 2);
  const fastest = best(amp);
  const rawBest = best(raw);
  return {
    ampstate_MBps: round(fastest.MBps),
    raw_tcp_MBps: round(rawBest.MBps),
    raw_tcp_discarded_MBps: round(best(discarded).MBps),
    share_of_raw: round(fastest.MBps / rawBest.MBps, 3),
    master_peak_rss_MB: mb(Math.max(...amp.map((run) => run.masterPeakRss))),
    worker_peak_rss_MB: mb(Math.max(...amp.map((run) => run.workerPeakRss))),
    master_rss_before_MB: mb(Math.min(...amp.map((run) => run.masterRssBefore))),
    worker_rss_before_MB: mb(Math.min(...amp.map((run) => run.workerRssBefore))),
    master_rss_growth_MB: mb(Math.max(...amp.map((run) => run.masterPeakRss - run.masterRssBefore))),
    worker_rss_growth_MB: mb(Math.max(...amp.map((run) => run.workerPeakRss - run.workerRssBefore))),
    runs_MBps: amp.map((run) => round(run.MBps)),
    ampstate_cpu_s_per_GB: cpuPerGB(amp),
    raw_tcp_cpu_s_per_GB: cpuPerGB(raw),
  };
}

function printReport(result: TransferBenchResult): void {
  const goal = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const rows = [
    ['upload (worker → master)', result.upload],
    ['download (master → worker)', result.download],
  ] as const;
  const header = ['direction', 'ampstate MB/s', 'raw TCP MB/s', 'share', 'raw, discarded MB/s', 'master RSS MB peak (idle)', 'worker RSS MB peak (idle)', 'CPU s/GB ampstate', 'CPU s/GB raw'];
  const cells = rows.map(([name, r]) => [
    name,
    r.ampstate_MBps.toFixed(1),
    r.raw_tcp_MBps.toFixed(1),
    `${(r.share_of_raw * 100).toFixed(0)} %`,
    r.raw_tcp_discarded_MBps.toFixed(1),
    `${r.master_peak_rss_MB.toFixed(1)} (${r.master_rss_before_MB.toFixed(1)})`,
    `${r.worker_peak_rss_MB.toFixed(1)} (${r.worker_rss_before_MB.toFixed(1)})`,
    r.ampstate_cpu_s_per_GB.toFixed(2),
    r.raw_tcp_cpu_s_per_GB.toFixed(2),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => row[column]!.length)));
  const format = (row: readonly string[]) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  const minShare = Math.min(result.upload.share_of_raw, result.download.share_of_raw);
  const maxGrowth = Math.max(result.upload.master_rss_growth_MB, result.upload.worker_rss_growth_MB, result.download.master_rss_growth_MB, result.download.worker_rss_growth_MB);
  const workerPeak = Math.max(result.upload.worker_peak_rss_MB, result.download.worker_peak_rss_MB);
  const lines = [
    '',
    `bench/transfer — ${round(result.size_bytes / MiB, 0)} MiB over loopback TCP, ${result.blocksize}-byte blocks, window ${result.transfer_window} (best of the runs)`,
    '',
    format(header),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...cells.map(format),
    '',
    `ampstate / raw TCP:  ${(minShare * 100).toFixed(0)} % at worst   (goal ≥ ${THROUGHPUT_GOAL * 100} %: ${goal(result.goals.throughput_share_met)})`,
    `RSS growth:          ${maxGrowth.toFixed(1)} MB at most  (goal ≤ ${RSS_GROWTH_GOAL_MB} MB on each side: ${goal(result.goals.rss_growth_met)})`,
    `worker peak RSS:     ${workerPeak.toFixed(1)} MB  (goal < ${WORKER_PEAK_GOAL_MB} MB: ${goal(result.goals.worker_peak_met)})`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

// ------------------------------------------------------------------ run

export async function run(options: { json: boolean }): Promise<TransferBenchResult> {
  void options;
  const size = Math.round(envNumber('AMPSTATE_BENCH_TRANSFER_MB', 1024) * MiB);
  const repeats = Math.round(envNumber('AMPSTATE_BENCH_TRANSFER_REPEATS', 2));
  const root = mkdtempSync(join(tmpdir(), 'ampstate-bench-transfer-'));
  const workerBase = join(root, 'worker');
  const buildDir = join(workerBase, 'build-bench', 'build');
  const masterBase = join(root, 'master');
  mkdirSync(buildDir, { recursive: true });
  mkdirSync(masterBase, { recursive: true });
  const passwordFile = join(root, 'password');
  writeFileSync(passwordFile, 'bench-password\n', { mode: 0o600 });

  const listener = new Listener({
    endpoint: 'tcp:0:interface=127.0.0.1',
    registrations: { [WORKER]: { password: 'bench-password', builders: [[BUILDER, 'build-bench']] } },
    keepaliveIntervalMs: 0,
  });
  let worker: WorkerChild | undefined;
  try {
    const source = join(buildDir, 'source.bin');
    log(`writing the ${round(size / MiB, 0)} MiB test file…`);
    const expected = writeTestFile(source, size);

    const address = await listener.start();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    worker = spawnWorker(`tcp:127.0.0.1:${port}`, workerBase, passwordFile);
    const connection = await attached(listener, WORKER, 20_000);
    log(`worker attached (pid ${worker.pid}, transfer window ${connection.transferWindow})`);

    const uploaded = join(masterBase, 'uploaded.bin');
    const upload = () =>
      uploadFile(connection, { builderName: BUILDER, workersrc: 'source.bin', masterdest: 'uploaded.bin', masterBasedir: masterBase, blocksize: MAX_BLOCK_SIZE });
    const download = () =>
      downloadFile(connection, { builderName: BUILDER, mastersrc: 'uploaded.bin', workerdest: 'downloaded.bin', masterBasedir: masterBase, blocksize: MAX_BLOCK_SIZE });

    const runs = { upAmp: [] as AmpMeasured[], upRaw: [] as Measured[], upDiscard: [] as Measured[], downAmp: [] as AmpMeasured[], downRaw: [] as Measured[], downDiscard: [] as Measured[] };
    for (let i = 1; i <= repeats; i++) {
      log(`upload, run ${i} of ${repeats}: raw TCP, then ampstate…`);
      runs.upRaw.push(await rawTransfer(source, size, join(masterBase, 'raw-upload.bin')));
      runs.upDiscard.push(await rawTransfer(source, size, undefined));
      const up = await ampTransfer(upload, size, worker.pid);
      runs.upAmp.push(up);
      log(`  raw ${runs.upRaw.at(-1)!.MBps.toFixed(1)} MB/s, ampstate ${up.MBps.toFixed(1)} MB/s`);
    }
    log('checking the uploaded copy…');
    if ((await sha256(uploaded)) !== expected) throw new Error('the uploaded file differs from the source');
    // The source is not needed any more: keep at most two copies on disk.
    rmSync(source);
    const downloaded = join(buildDir, 'downloaded.bin');
    for (let i = 1; i <= repeats; i++) {
      log(`download, run ${i} of ${repeats}: raw TCP, then ampstate…`);
      runs.downRaw.push(await rawTransfer(uploaded, size, join(buildDir, 'raw-download.bin')));
      runs.downDiscard.push(await rawTransfer(uploaded, size, undefined));
      const down = await ampTransfer(download, size, worker.pid);
      runs.downAmp.push(down);
      log(`  raw ${runs.downRaw.at(-1)!.MBps.toFixed(1)} MB/s, ampstate ${down.MBps.toFixed(1)} MB/s`);
    }
    log('checking the downloaded copy…');
    if ((await sha256(downloaded)) !== expected) throw new Error('the downloaded file differs from the source');

    const result: TransferBenchResult = {
      size_bytes: size,
      blocksize: MAX_BLOCK_SIZE,
      transfer_window: connection.transferWindow,
      upload: direction(runs.upAmp, runs.upRaw, runs.upDiscard, size),
      download: direction(runs.downAmp, runs.downRaw, runs.downDiscard, size),
      goals: { throughput_share_met: false, rss_growth_met: false, worker_peak_met: false },
    };
    result.goals.throughput_share_met = Math.min(result.upload.share_of_raw, result.download.share_of_raw) >= THROUGHPUT_GOAL;
    const sides = [result.upload, result.download];
    result.goals.rss_growth_met = sides.every((r) => Math.max(r.master_rss_growth_MB, r.worker_rss_growth_MB) <= RSS_GROWTH_GOAL_MB);
    result.goals.worker_peak_met = sides.every((r) => r.worker_peak_rss_MB < WORKER_PEAK_GOAL_MB);
    printReport(result);
    return result;
  } finally {
    await worker?.stop();
    await listener.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
