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
 * --transfer-window, default its own default of 16), AMPSTATE_BENCH_TRANSFER_PROFILE=DIR (CPU
 * profiles of both ends, see transfer/profile.ts).
 *
 * Goals: ≥ 80 % of raw TCP throughput; on each side RSS grows by at most 32 MB over idle; the
 * worker's peak stays under 100 MB.
 *
 * The parts live in bench/transfer/: run.ts (the sequence), measure.ts, raw.ts, worker-child.ts,
 * memory.ts, test-file.ts, report.ts (fields, goals, table), profile.ts.
 */
export { run } from './transfer/run.js';
export type { DirectionResult, TransferBenchResult } from './transfer/report.js';
