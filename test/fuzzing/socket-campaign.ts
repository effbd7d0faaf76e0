/**
 * A fuzzing campaign on real loopback sockets: many damaged streams, a bounded number at a time,
 * against one AMP server while a good client keeps calling it. Reports what every stream met,
 * whether the good calls all succeeded, and the server process's heap (after full GCs) and file
 * descriptors before and after, so a leak per connection shows as growth.
 */
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startFuzzServer, type LogCounts } from './fuzz-server.js';
import { GoodClient } from './good-client.js';
import { outcomeAllowed, sendStream, type StreamOutcome } from './stream-client.js';
import { streamBatch, type Damage } from './stream-corpus.js';
import { expectationOf, type Expectation } from './stream-expectation.js';

export interface CampaignOptions {
  readonly streams: number;
  readonly seed: number;
  /** Fuzzed connections open at once. */
  readonly concurrency: number;
  /** Parallel callers of the good client. */
  readonly goodCallers: number;
  /** Generous: it only stops a stuck server from hanging the campaign. */
  readonly watchdogMs: number;
  readonly onProgress?: (streamsDone: number) => void;
}

export const DEFAULT_CAMPAIGN: Omit<CampaignOptions, 'streams'> = { seed: 1, concurrency: 64, goodCallers: 4, watchdogMs: 20_000 };

/** A stream the server did not treat as it must; (seed, batch, index) makes it again. */
export interface Violation {
  readonly seed: number;
  readonly batch: number;
  readonly index: number;
  readonly expectation: Expectation;
  readonly outcome: StreamOutcome;
  readonly damage: readonly Damage[];
  /** The stream's first bytes, in hex. */
  readonly head: string;
  readonly length: number;
}

export interface CampaignReport {
  readonly streams: number;
  readonly byExpectation: Record<Expectation, number>;
  readonly byOutcome: Partial<Record<StreamOutcome, number>>;
  readonly byDamage: Partial<Record<Damage, number>>;
  /** Streams that obliged the server to close, and how many it closed on its own. */
  readonly badConnections: number;
  readonly badClosedByServer: number;
  readonly violations: readonly Violation[];
  readonly violationCount: number;
  readonly goodCalls: { readonly ok: number; readonly failed: number; readonly failures: readonly string[] };
  readonly unhandledRejections: number;
  readonly uncaughtExceptions: number;
  /** Connections the server still had open at the end besides the good client's (should be 0). */
  readonly serverConnectionsLeft: number;
  readonly heapBefore: number;
  readonly heapAfter: number;
  readonly fdsBefore: number;
  readonly fdsAfter: number;
  readonly serverLogLines: LogCounts;
  readonly elapsedMs: number;
  /** CPU time of the whole process (server, good client and fuzzer share it); steadier than elapsed on a busy machine. */
  readonly cpuMs: number;
}

/** Streams generated at a time; also the warm-up done before the baseline is measured. */
const BATCH = 500;

export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  let unhandledRejections = 0;
  let uncaughtExceptions = 0;
  const onRejection = () => unhandledRejections++;
  const onException = () => uncaughtExceptions++;
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const server = await startFuzzServer();
  const good = await GoodClient.start(server.port, options.goodCallers);
  const tally = new Tally(options.seed);

  const batches = Math.ceil(options.streams / BATCH);
  let heapBefore = 0;
  let fdsBefore = 0;
  for (let batch = 0; batch < batches; batch++) {
    const size = Math.min(BATCH, options.streams - batch * BATCH);
    await runBatch(server.port, batch, streamBatch(options.seed, batch, size), options, tally);
    options.onProgress?.(tally.streams);
    if (batch === 0) {
      // After a warm-up batch: pools, JIT code and caches that any run needs are not counted as growth.
      await settle(() => server.open === 1);
      heapBefore = collectedHeap();
      fdsBefore = openFds();
    }
  }
  const goodCalls = await good.stopCalling();
  await settle(() => server.open === 1);
  const serverConnectionsLeft = server.open - 1;
  const heapAfter = collectedHeap();
  const fdsAfter = openFds();
  await good.close();
  await server.close();
  process.off('unhandledRejection', onRejection);
  process.off('uncaughtException', onException);
  return {
    ...tally.summary(),
    goodCalls,
    unhandledRejections,
    uncaughtExceptions,
    serverConnectionsLeft,
    heapBefore,
    heapAfter,
    fdsBefore,
    fdsAfter,
    serverLogLines: server.logLines,
    elapsedMs: performance.now() - started,
    cpuMs: cpuMilliseconds(process.cpuUsage(cpuStart)),
  };
}

/** Runs one batch's streams, `concurrency` connections at a time. */
async function runBatch(
  port: number,
  batch: number,
  streams: ReturnType<typeof streamBatch>,
  options: CampaignOptions,
  tally: Tally,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < streams.length) {
      const index = next++;
      const stream = streams[index]!;
      const expectation = expectationOf(stream.bytes);
      const outcome = await sendStream(port, stream.bytes, expectation, options.watchdogMs);
      tally.add(batch, index, stream.bytes, stream.damage, expectation, outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, streams.length) }, lane));
}

class Tally {
  streams = 0;
  private readonly byExpectation: Record<Expectation, number> = { close: 0, 'between-boxes': 0, 'mid-box': 0 };
  private readonly byOutcome: Partial<Record<StreamOutcome, number>> = {};
  private readonly byDamage: Partial<Record<Damage, number>> = {};
  private badClosedByServer = 0;
  private readonly violations: Violation[] = [];
  private violationCount = 0;

  constructor(private readonly seed: number) {}

  add(batch: number, index: number, bytes: Buffer, damage: readonly Damage[], expectation: Expectation, outcome: StreamOutcome): void {
    this.streams++;
    this.byExpectation[expectation]++;
    this.byOutcome[outcome] = (this.byOutcome[outcome] ?? 0) + 1;
    for (const kind of new Set(damage)) this.byDamage[kind] = (this.byDamage[kind] ?? 0) + 1;
    if (expectation === 'close' && outcome === 'closed-by-server') this.badClosedByServer++;
    if (outcomeAllowed(expectation, outcome)) return;
    this.violationCount++;
    if (this.violations.length < 10) {
      const head = bytes.subarray(0, 64).toString('hex');
      this.violations.push({ seed: this.seed, batch, index, expectation, outcome, damage, head, length: bytes.length });
    }
  }

  summary() {
    return {
      streams: this.streams,
      byExpectation: this.byExpectation,
      byOutcome: this.byOutcome,
      byDamage: this.byDamage,
      badConnections: this.byExpectation.close,
      badClosedByServer: this.badClosedByServer,
      violations: this.violations,
      violationCount: this.violationCount,
    };
  }
}

/**
 * Waits (10 s at most) until the server has seen every fuzzed connection close. A fuzzer's socket
 * closes a moment before the server's side does; a server that keeps one shows in the report.
 */
async function settle(done: () => boolean): Promise<void> {
  for (let polls = 0; !done() && polls < 1000; polls++) await sleep(10);
}

/** Heap in use after full collections (node started with --expose-gc, or exposed here). */
function collectedHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc ?? exposeGc();
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function cpuMilliseconds(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}
