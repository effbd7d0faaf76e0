/** bench/transfer's result: the JSON fields, the goals, and the table printed for people. */
import { median } from '../support/measure.js';
import { best, type AmpMeasured, type Measured } from './measure.js';
import { MB, MiB } from './environment.js';
import type { RawMeasured } from './raw.js';

export const WORKER_PEAK_GOAL_MB = 100;
export const RSS_GROWTH_GOAL_MB = 32;
export const THROUGHPUT_GOAL = 0.8;

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
  /**
   * The same figure for plain Node sockets in the raw runs (into a file) of this bench: the floor
   * a Node process moving the file reaches without ampstate. Sender and receiver, as
   * master/worker are for the direction.
   */
  raw_tcp_sender_rss_growth_MB: number;
  raw_tcp_receiver_rss_growth_MB: number;
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

export const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const mb = (bytes: number) => round(bytes / MB, 1);

/** One direction's figures: the best run's throughput, the worst run's memory, the median CPU. */
export function direction(amp: readonly AmpMeasured[], raw: readonly RawMeasured[], discarded: readonly Measured[], bytes: number): DirectionResult {
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
    raw_tcp_sender_rss_growth_MB: mb(Math.max(...raw.map((run) => run.senderRssGrowth))),
    raw_tcp_receiver_rss_growth_MB: mb(Math.max(...raw.map((run) => run.receiverRssGrowth))),
    runs_MBps: amp.map((run) => round(run.MBps)),
    ampstate_cpu_s_per_GB: cpuPerGB(amp),
    raw_tcp_cpu_s_per_GB: cpuPerGB(raw),
  };
}

export function goals(upload: DirectionResult, download: DirectionResult): TransferBenchResult['goals'] {
  const sides = [upload, download];
  return {
    throughput_share_met: Math.min(upload.share_of_raw, download.share_of_raw) >= THROUGHPUT_GOAL,
    rss_growth_met: sides.every((r) => Math.max(r.master_rss_growth_MB, r.worker_rss_growth_MB) <= RSS_GROWTH_GOAL_MB),
    worker_peak_met: sides.every((r) => r.worker_peak_rss_MB < WORKER_PEAK_GOAL_MB),
  };
}

export function printReport(result: TransferBenchResult): void {
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
  const rawGrowth = Math.max(
    result.upload.raw_tcp_sender_rss_growth_MB,
    result.upload.raw_tcp_receiver_rss_growth_MB,
    result.download.raw_tcp_sender_rss_growth_MB,
    result.download.raw_tcp_receiver_rss_growth_MB,
  );
  const lines = [
    '',
    `bench/transfer — ${round(result.size_bytes / MiB, 0)} MiB over loopback TCP, ${result.blocksize}-byte blocks, window ${result.transfer_window} (best of the runs)`,
    '',
    format(header),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...cells.map(format),
    '',
    `ampstate / raw TCP:  ${(minShare * 100).toFixed(0)} % at worst   (goal ≥ ${THROUGHPUT_GOAL * 100} %: ${goal(result.goals.throughput_share_met)})`,
    `RSS growth:          ${maxGrowth.toFixed(1)} MB at most  (goal ≤ ${RSS_GROWTH_GOAL_MB} MB on each side: ${goal(result.goals.rss_growth_met)}; plain Node sockets in the raw runs: ${rawGrowth.toFixed(1)} MB at most)`,
    `worker peak RSS:     ${workerPeak.toFixed(1)} MB  (goal < ${WORKER_PEAK_GOAL_MB} MB: ${goal(result.goals.worker_peak_met)})`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
