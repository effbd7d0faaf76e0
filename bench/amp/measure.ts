/**
 * Measuring drivers against each other: the same workload, interleaved, with the CPU time of both
 * processes of a pair (see bench/support/process-cpu.ts) divided by the calls made.
 */
import { cpuDuring } from '../support/process-cpu.js';
import { median } from '../support/measure.js';
import { echoCalls, type Driver } from './drivers.js';

/** Per-pair workload; the Twisted server gets Twisted's own defaults (it is ~30× slower). */
export interface Workload {
  readonly sequential: number;
  readonly pipelined: number;
  readonly echoMB: number;
  /** Each phase is repeated and the best run kept (the machine is shared). */
  readonly repeats: number;
}

/**
 * A million pipelined calls: at 200,000 a run took half a second of CPU, read in 10 ms clock ticks
 * (±4 % per reading), and its 20,000-call warm-up left the JIT still tiering up.
 */
export const FAST: Workload = { sequential: 20_000, pipelined: 1_000_000, echoMB: 200, repeats: 3 };
export const TWISTED_SERVER: Workload = { sequential: 2000, pipelined: 20_000, echoMB: 20, repeats: 1 };

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

type Phase = 'sequential' | 'pipelined' | 'echo';
const PHASES: readonly Phase[] = ['sequential', 'pipelined', 'echo'];

export function best(values: readonly number[]): number {
  return Math.max(...values);
}

/** Calls a phase makes for `amount` (calls, or megabytes for echo). */
const callsOf = (phase: Phase, amount: number) => (phase === 'echo' ? echoCalls(amount) : amount);

/**
 * Measures several drivers with the same workload, interleaved: for each repeat and phase every
 * driver runs once (in alternating order), so a busy moment on the shared machine hits all of them
 * alike. Keeps each driver's best rate and its median CPU per call.
 */
export async function measure(drivers: readonly Driver[], workload: Workload): Promise<PairResult[]> {
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
