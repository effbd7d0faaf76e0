/**
 * Throughput measurement for CPU-bound micro-benchmarks: a warm-up so the JIT settles, then several
 * timed rounds; the median is reported because the machine is shared and single rounds get
 * preempted.
 */
export interface MeasureOptions {
  readonly warmupMs: number;
  readonly rounds: number;
  readonly roundMs: number;
}

export interface Throughput {
  /** Median units per wall-clock second over the rounds. */
  readonly perSecond: number;
  /**
   * Median units per second of this process's CPU time. On a shared machine the wall-clock rate
   * drops whenever another process takes the core; this one approximates what one core can do
   * (conservatively: GC and JIT threads are billed too).
   */
  readonly perCpuSecond: number;
  readonly rounds: readonly number[];
}

/** `operation` does a batch of work and returns how many units (boxes) it processed. */
export function measure(operation: () => number, options: MeasureOptions): Throughput {
  runFor(operation, options.warmupMs);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < options.rounds; i++) {
    const round = runFor(operation, options.roundMs);
    wall.push(round.wall);
    cpu.push(round.cpu);
  }
  return { perSecond: median(wall), perCpuSecond: median(cpu), rounds: wall };
}

/**
 * Measures several operations with their rounds interleaved (a round of each, then the next round
 * of each), so that load from other processes falls on all of them alike and their ratios hold.
 */
export function measureInterleaved<K extends string>(operations: Readonly<Record<K, () => number>>, options: MeasureOptions): Record<K, Throughput> {
  const names = Object.keys(operations) as K[];
  for (const name of names) runFor(operations[name], options.warmupMs);
  const wall = new Map<K, number[]>(names.map((name) => [name, []]));
  const cpu = new Map<K, number[]>(names.map((name) => [name, []]));
  for (let i = 0; i < options.rounds; i++) {
    for (const name of names) {
      const round = runFor(operations[name], options.roundMs);
      wall.get(name)!.push(round.wall);
      cpu.get(name)!.push(round.cpu);
    }
  }
  const out = {} as Record<K, Throughput>;
  for (const name of names) out[name] = { perSecond: median(wall.get(name)!), perCpuSecond: median(cpu.get(name)!), rounds: wall.get(name)! };
  return out;
}

function runFor(operation: () => number, ms: number): { wall: number; cpu: number } {
  const budget = BigInt(Math.round(ms * 1e6));
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  let units = 0;
  let elapsed = 0n;
  do {
    units += operation();
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < budget);
  const cpuUsed = process.cpuUsage(cpuStart);
  const cpuSeconds = Math.max(1e-6, (cpuUsed.user + cpuUsed.system) / 1e6);
  return { wall: units / (Number(elapsed) / 1e9), cpu: units / cpuSeconds };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A right-aligned text table; the first column is left-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const format = (cells: readonly string[]) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [format(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(format)].join('\n');
}

export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}
