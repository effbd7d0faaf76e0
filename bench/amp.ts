/**
 * bench/amp: AMP calls over loopback TCP, all in one run.
 *
 *   sequential calls/s   one Hello at a time, each awaited before the next
 *   pipelined calls/s    Hello calls with 1000 in flight
 *   echo MB/s            Echo calls with 60 KB (61440-byte) String values, 8 in flight;
 *                        MB = 10^6 payload bytes sent one way
 *
 * Pairs: ampstate ↔ ampstate (server in a child process, so the two ends do not share a core),
 * ampstate client ↔ Twisted server, Twisted ↔ Twisted (`amp_peer.py twisted-bench`: Twisted's
 * client and server in one process, the way Twisted runs), and raw Node TCP with a 4-byte length
 * prefix echoed frame by frame (server in a child process) as the limit.
 *
 * CPU per operation: user + system time of BOTH processes of a pair (this process through
 * process.cpuUsage, a child server through /proc/<pid>/stat; Twisted↔Twisted reports its own
 * process_time) divided by the calls made: the steadiest figure on a shared machine.
 *
 * Run through bench/run.ts (`npm run bench -- amp`), which imports this module and calls `run`.
 * Goals: pipelined ampstate ≥ 30× Twisted↔Twisted and ≥ 50 % of raw; a pipelined call costs
 * ≤ 1/30 of Twisted's CPU; sequential ≥ 70 % of raw; echo ≥ 80 % of raw.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '../actors/connect.js';
import { Echo, Hello } from '../test/fixtures/commands.js';
import { FrameReader, frame } from './raw-framing.js';
import { cpuDuring } from './support/process-cpu.js';
import { median } from './support/measure.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository root, whether this runs as dist/bench/amp.js or from bench/. */
const ROOT = /[\\/]dist[\\/]bench$/.test(HERE) ? resolve(HERE, '../..') : resolve(HERE, '..');
const PYTHON = '/usr/bin/python3';
const AMP_PEER = join(ROOT, 'test/python/amp_peer.py');

const ECHO_SIZE = 61_440;
const WINDOW = 1000;
const ECHO_WINDOW = 8;

/** Per-pair workload; the Twisted server gets Twisted's own defaults (it is ~30× slower). */
interface Workload {
  readonly sequential: number;
  readonly pipelined: number;
  readonly echoMB: number;
  /** Each phase is repeated and the best run kept (the machine is shared). */
  readonly repeats: number;
}

const FAST: Workload = { sequential: 20_000, pipelined: 200_000, echoMB: 200, repeats: 3 };
const TWISTED_SERVER: Workload = { sequential: 2000, pipelined: 20_000, echoMB: 20, repeats: 1 };

/** Microseconds of CPU (both ends together) per call; an echo call moves one 60 KB value each way. */
export interface CpuPerCall {
  sequential: number;
  pipelined: number;
  echo: number;
}

export interface PairResult {
  sequential_calls_per_s: number;
  pipelined_calls_per_s: number;
  echo_MBps: number;
  /** Absent when a side's CPU time cannot be read (a Twisted peer that does not report it). */
  cpu_us_per_call?: CpuPerCall;
  errors: number;
}

type Compared = { ampstate: number; twisted: number; raw: number };

export interface AmpBenchResult extends Record<string, unknown> {
  sequential_calls_per_s: Compared;
  pipelined_calls_per_s: Compared & { ampstate_client_twisted_server: number };
  echo_MBps: Compared;
  /** Median over the repeats, microseconds of user + system CPU of both processes per call. */
  cpu_us_per_call: { sequential: Compared; pipelined: Compared; echo: Compared };
}

// ------------------------------------------------------------------ child servers

interface Child {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Spawns a server that prints `{"port": N}` and exits when its stdin closes. */
function spawnServer(command: string, args: readonly string[]): Promise<Child> {
  const child: ChildProcessWithoutNullStreams = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-4000)));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return new Promise((resolvePort, reject) => {
    const fail = (why: string) => reject(new Error(`${command} ${args.join(' ')}: ${why}\n${stderr}`));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail('no port within 20 s');
    }, 20_000);
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code) => fail(`exited (${code}) before listening`));
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      if (!stdout.includes('\n')) return;
      clearTimeout(timer);
      const { port } = JSON.parse(stdout.slice(0, stdout.indexOf('\n'))) as { port: number };
      resolvePort({
        port,
        pid: child.pid ?? -1,
        stop: async () => {
          child.stdin.end();
          const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(kill);
        },
      });
    });
  });
}

function runJson(command: string, args: readonly string[]): Promise<Record<string, unknown>> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-4000)));
  return new Promise((done, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      try {
        done(JSON.parse(stdout.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`${command} ${args.join(' ')} exited ${code} without JSON:\n${stderr}`));
      }
    });
  });
}

// ------------------------------------------------------------------ measuring helpers

/** Runs `total` operations with `window` in flight; `start(i, done)` begins one. Returns seconds. */
function windowed(total: number, window: number, start: (i: number, done: () => void) => void): Promise<number> {
  return new Promise((resolveSeconds) => {
    let sent = 0;
    let finished = 0;
    const began = performance.now();
    const done = () => {
      finished++;
      if (sent < total) start(sent++, done);
      else if (finished === total) resolveSeconds((performance.now() - began) / 1000);
    };
    const initial = Math.min(window, total);
    for (let i = 0; i < initial; i++) start(sent++, done);
  });
}

function best(values: readonly number[]): number {
  return Math.max(...values);
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Hello counts 1000..100999, like amp_peer.py: never one of the magic counts. */
const safeCount = (i: number) => 1000 + (i % 100_000);
const BENCH_NAME = Buffer.from('bench');

function makePayload(): Buffer {
  const payload = Buffer.allocUnsafe(ECHO_SIZE);
  for (let i = 0; i < ECHO_SIZE; i++) payload[i] = i & 0xff;
  return payload;
}

// ------------------------------------------------------------------ drivers

/** One client connection that can run the three measurements; each returns a rate. */
interface Driver {
  sequential(calls: number): Promise<number>;
  pipelined(calls: number): Promise<number>;
  echo(megabytes: number): Promise<number>;
  /** The processes doing the work: this one and the server child. */
  readonly pids: readonly (number | 'self')[];
  readonly errors: number;
  close(): Promise<void>;
}

/** ampstate's AmpConnection as the client: typed Hello and Echo calls. */
async function ampDriver(port: number, serverPid: number): Promise<Driver> {
  const client = await connect(`tcp:127.0.0.1:${port}`);
  let errors = 0;
  const hello = (i: number) => client.callRemote(Hello, { count: safeCount(i), name: BENCH_NAME });
  const checkHello = (i: number, greeting: string) => {
    if (greeting !== `hi bench x${safeCount(i)} é`) errors++;
  };
  const payload = makePayload();
  return {
    pids: ['self', serverPid],
    get errors() {
      return errors + (client.isClosed ? 1 : 0);
    },
    sequential: async (calls) => {
      const began = performance.now();
      for (let i = 0; i < calls; i++) checkHello(i, (await hello(i)).greeting);
      return calls / ((performance.now() - began) / 1000);
    },
    pipelined: async (calls) =>
      calls /
      (await windowed(calls, WINDOW, (i, done) => {
        hello(i).then(
          (answer) => {
            checkHello(i, answer.greeting);
            done();
          },
          () => {
            errors++;
            done();
          },
        );
      })),
    echo: async (megabytes) => {
      const count = Math.max(1, Math.ceil((megabytes * 1e6) / ECHO_SIZE));
      const seconds = await windowed(count, ECHO_WINDOW, (_i, done) => {
        client.callRemote(Echo, { data: payload }).then(
          (answer) => {
            if (!answer.data.equals(payload)) errors++;
            done();
          },
          () => {
            errors++;
            done();
          },
        );
      });
      return (count * ECHO_SIZE) / 1e6 / seconds;
    },
    close: async () => {
      client.close();
      await client.closed;
    },
  };
}

/** A Hello request box is ~50 bytes: the raw sequential/pipelined messages have the same size. */
const RAW_SMALL = Buffer.alloc(50, 0x62);

/** Plain TCP with length-prefixed frames; answers come back in order, so a FIFO replaces tags. */
async function rawDriver(port: number, serverPid: number): Promise<Driver> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((done, reject) => {
    socket.once('connect', done);
    socket.once('error', reject);
  });
  let errors = 0;
  const waiting: ((payload: Buffer) => void)[] = [];
  let head = 0;
  const reader = new FrameReader((payload) => {
    const callback = waiting[head]!;
    waiting[head++] = undefined as never;
    if (head > 4096 && head * 2 > waiting.length) {
      waiting.splice(0, head);
      head = 0;
    }
    callback(payload);
  });
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  // The same batching as AmpConnection: messages sent in one tick leave in one writev.
  const send = (bytes: Buffer, callback: (payload: Buffer) => void) => {
    waiting.push(callback);
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    socket.write(frame(bytes));
  };
  const payload = makePayload();
  return {
    pids: ['self', serverPid],
    get errors() {
      return errors;
    },
    sequential: async (calls) => {
      const began = performance.now();
      for (let i = 0; i < calls; i++) {
        const answer = await new Promise<Buffer>((done) => send(RAW_SMALL, done));
        if (!answer.equals(RAW_SMALL)) errors++;
      }
      return calls / ((performance.now() - began) / 1000);
    },
    pipelined: async (calls) =>
      calls /
      (await windowed(calls, WINDOW, (_i, done) =>
        send(RAW_SMALL, (answer) => {
          if (!answer.equals(RAW_SMALL)) errors++;
          done();
        }),
      )),
    echo: async (megabytes) => {
      const count = Math.max(1, Math.ceil((megabytes * 1e6) / ECHO_SIZE));
      const seconds = await windowed(count, ECHO_WINDOW, (_i, done) =>
        send(payload, (answer) => {
          if (!answer.equals(payload)) errors++;
          done();
        }),
      );
      return (count * ECHO_SIZE) / 1e6 / seconds;
    },
    close: async () => {
      socket.destroy();
    },
  };
}

type Phase = 'sequential' | 'pipelined' | 'echo';
const PHASES: readonly Phase[] = ['sequential', 'pipelined', 'echo'];

/** Calls a phase makes for `amount` (calls, or megabytes for echo). */
const callsOf = (phase: Phase, amount: number) => (phase === 'echo' ? Math.max(1, Math.ceil((amount * 1e6) / ECHO_SIZE)) : amount);

/**
 * Measures several drivers with the same workload, interleaved: for each repeat and phase every
 * driver runs once (in alternating order), so a busy moment on the shared machine hits all of them
 * alike. Keeps each driver's best run.
 */
async function measure(drivers: readonly Driver[], workload: Workload): Promise<PairResult[]> {
  const amount = (phase: Phase, scale = 1) =>
    Math.max(1, Math.round((phase === 'sequential' ? workload.sequential : phase === 'pipelined' ? workload.pipelined : workload.echoMB) * scale));
  // Warm-up (JIT, socket buffers), not measured.
  for (const driver of drivers) for (const phase of PHASES) await driver[phase](amount(phase, 0.1));
  const series = () => ({ sequential: [] as number[], pipelined: [] as number[], echo: [] as number[] });
  const results = drivers.map(series);
  const cpu = drivers.map(series);
  for (let repeat = 0; repeat < workload.repeats; repeat++) {
    for (const phase of PHASES) {
      const order = drivers.map((_, i) => i);
      if (repeat % 2 === 1) order.reverse();
      for (const i of order) {
        const driver = drivers[i]!;
        const { value, cpuSeconds } = await cpuDuring(driver.pids, () => driver[phase](amount(phase)));
        results[i]![phase].push(value);
        cpu[i]![phase].push((cpuSeconds * 1e6) / callsOf(phase, amount(phase)));
      }
    }
  }
  return drivers.map((driver, i) => ({
    sequential_calls_per_s: best(results[i]!.sequential),
    pipelined_calls_per_s: best(results[i]!.pipelined),
    echo_MBps: best(results[i]!.echo),
    cpu_us_per_call: { sequential: median(cpu[i]!.sequential), pipelined: median(cpu[i]!.pipelined), echo: median(cpu[i]!.echo) },
    errors: driver.errors,
  }));
}

// ------------------------------------------------------------------ the run

function childScript(name: string): string {
  const script = join(HERE, `${name}.js`);
  if (!existsSync(script)) throw new Error(`${script} is missing: run "npm run build" first`);
  return script;
}

function log(message: string): void {
  process.stderr.write(`[bench/amp] ${message}\n`);
}

function cpuTable(cpu: AmpBenchResult['cpu_us_per_call']): string {
  const header = ['pair', 'sequential', 'pipelined', 'echo (60 KB)'];
  const pairs = [
    ['ampstate ↔ ampstate', 'ampstate'],
    ['Twisted ↔ Twisted', 'twisted'],
    ['raw TCP, length prefix', 'raw'],
  ] as const;
  const lines = pairs.map(([name, key]) => [name, ...(['sequential', 'pipelined', 'echo'] as const).map((phase) => cpu[phase][key].toFixed(2))]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const format = (cells: readonly string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [format(header), widths.map((width) => '-'.repeat(width)).join('  '), ...lines.map(format)].join('\n');
}

function table(rows: readonly (readonly [string, PairResult | undefined])[]): string {
  const header = ['pair', 'sequential calls/s', 'pipelined calls/s', 'echo MB/s'];
  const lines = rows.map(([name, result]) =>
    result === undefined
      ? [name, '-', '-', '-']
      : [name, round(result.sequential_calls_per_s, 0).toLocaleString('en-US'), round(result.pipelined_calls_per_s, 0).toLocaleString('en-US'), round(result.echo_MBps, 1).toFixed(1)],
  );
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const format = (cells: readonly string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [format(header), widths.map((width) => '-'.repeat(width)).join('  '), ...lines.map(format)].join('\n');
}

export async function run(options: { json: boolean }): Promise<AmpBenchResult> {
  void options;
  if (!existsSync(PYTHON) || !existsSync(AMP_PEER)) throw new Error(`bench/amp needs ${PYTHON} with Twisted and ${AMP_PEER}`);
  const children: Child[] = [];
  try {
    log('starting the ampstate and raw TCP servers (child processes)…');
    const [ampServer, rawServer] = await Promise.all([
      spawnServer(process.execPath, [childScript('amp-server')]),
      spawnServer(process.execPath, [childScript('raw-server')]),
    ]);
    children.push(ampServer, rawServer);

    log('ampstate ↔ ampstate and raw TCP, interleaved…');
    const fast = [await ampDriver(ampServer.port, ampServer.pid), await rawDriver(rawServer.port, rawServer.pid)];
    const [ampstate, raw] = (await measure(fast, FAST)) as [PairResult, PairResult];
    for (const driver of fast) await driver.close();

    log('Twisted client → ampstate server…');
    const twistedClientAmpServer = (await runJson(PYTHON, [AMP_PEER, 'client-bench', '--port', String(ampServer.port)])) as unknown as PairResult;

    log('ampstate client → Twisted server…');
    const twistedServer = await spawnServer(PYTHON, [AMP_PEER, 'server', '--port', '0']);
    children.push(twistedServer);
    const toTwisted = await ampDriver(twistedServer.port, twistedServer.pid);
    const [ampClientTwistedServer] = (await measure([toTwisted], TWISTED_SERVER)) as [PairResult];
    await toTwisted.close();

    log('Twisted ↔ Twisted (amp_peer.py twisted-bench, best of 2)…');
    const twistedRuns = [
      (await runJson(PYTHON, [AMP_PEER, 'twisted-bench'])) as unknown as PairResult,
      (await runJson(PYTHON, [AMP_PEER, 'twisted-bench'])) as unknown as PairResult,
    ];
    const twistedCpu = twistedRuns.map((r) => r.cpu_us_per_call);
    const twisted: PairResult = {
      sequential_calls_per_s: best(twistedRuns.map((r) => r.sequential_calls_per_s)),
      pipelined_calls_per_s: best(twistedRuns.map((r) => r.pipelined_calls_per_s)),
      echo_MBps: best(twistedRuns.map((r) => r.echo_MBps)),
      // Twisted's own figure (process_time around each phase); the lower of the two runs.
      ...(twistedCpu.every((c) => c !== undefined)
        ? {
            cpu_us_per_call: {
              sequential: Math.min(...twistedCpu.map((c) => c.sequential)),
              pipelined: Math.min(...twistedCpu.map((c) => c.pipelined)),
              echo: Math.min(...twistedCpu.map((c) => c.echo)),
            },
          }
        : {}),
      errors: twistedRuns.reduce((sum, r) => sum + Number(r.errors), 0),
    };

    const errors = ampstate.errors + raw.errors + ampClientTwistedServer.errors + twisted.errors + Number(twistedClientAmpServer.errors ?? 0);
    if (errors > 0) throw new Error(`bench/amp: ${errors} calls failed or answered wrongly`);
    return report(ampstate, raw, ampClientTwistedServer, twistedClientAmpServer, twisted);
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
}

function report(ampstate: PairResult, raw: PairResult, ampClientTwistedServer: PairResult, twistedClientAmpServer: PairResult, twisted: PairResult): AmpBenchResult {
  const cpuOf = (phase: keyof CpuPerCall): Compared => ({
    ampstate: round(ampstate.cpu_us_per_call?.[phase] ?? NaN, 2),
    twisted: round(twisted.cpu_us_per_call?.[phase] ?? NaN, 2),
    raw: round(raw.cpu_us_per_call?.[phase] ?? NaN, 2),
  });

  const result: AmpBenchResult = {
    sequential_calls_per_s: {
      ampstate: round(ampstate.sequential_calls_per_s),
      twisted: round(twisted.sequential_calls_per_s),
      raw: round(raw.sequential_calls_per_s),
    },
    pipelined_calls_per_s: {
      ampstate: round(ampstate.pipelined_calls_per_s),
      twisted: round(twisted.pipelined_calls_per_s),
      raw: round(raw.pipelined_calls_per_s),
      ampstate_client_twisted_server: round(ampClientTwistedServer.pipelined_calls_per_s),
    },
    echo_MBps: {
      ampstate: round(ampstate.echo_MBps, 2),
      twisted: round(twisted.echo_MBps, 2),
      raw: round(raw.echo_MBps, 2),
    },
    cpu_us_per_call: {
      sequential: cpuOf('sequential'),
      pipelined: cpuOf('pipelined'),
      echo: cpuOf('echo'),
    },
  };

  const ratio = (a: number, b: number) => (b > 0 ? a / b : NaN);
  const pipelinedX = ratio(ampstate.pipelined_calls_per_s, twisted.pipelined_calls_per_s);
  const pipelinedShare = ratio(ampstate.pipelined_calls_per_s, raw.pipelined_calls_per_s);
  const cpuX = ratio(result.cpu_us_per_call.pipelined.twisted, result.cpu_us_per_call.pipelined.ampstate);
  const sequentialShare = ratio(ampstate.sequential_calls_per_s, raw.sequential_calls_per_s);
  const echoShare = ratio(ampstate.echo_MBps, raw.echo_MBps);
  const goal = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const lines = [
    '',
    'bench/amp — loopback TCP, Hello calls and 60 KB Echo values (best of the repeats)',
    '',
    table([
      ['ampstate ↔ ampstate', ampstate],
      ['ampstate client → Twisted server', ampClientTwistedServer],
      ['Twisted client → ampstate server', twistedClientAmpServer],
      ['Twisted ↔ Twisted (one process)', twisted],
      ['raw TCP, length prefix (limit)', raw],
    ]),
    '',
    'CPU per call, µs (user + system of both processes; median of the repeats)',
    '',
    cpuTable(result.cpu_us_per_call),
    '',
    `pipelined ampstate / Twisted↔Twisted: ${pipelinedX.toFixed(1)}×   (goal ≥ 30×: ${goal(pipelinedX >= 30)})`,
    `pipelined ampstate / raw:             ${(pipelinedShare * 100).toFixed(0)} %  (goal ≥ 50 %: ${goal(pipelinedShare >= 0.5)})`,
    `pipelined CPU, Twisted / ampstate:    ${cpuX.toFixed(1)}×   (goal ≥ 30×: ${goal(cpuX >= 30)})`,
    `sequential ampstate / raw:            ${(sequentialShare * 100).toFixed(0)} %  (goal ≥ 70 %: ${goal(sequentialShare >= 0.7)})`,
    `echo ampstate / raw:                  ${(echoShare * 100).toFixed(0)} %  (goal ≥ 80 %: ${goal(echoShare >= 0.8)})`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return result;
}
