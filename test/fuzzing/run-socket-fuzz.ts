/**
 * `npm run fuzz -- [--streams N] [--seed S] [--concurrency C] [--json]`: the socket fuzzing
 * campaign of socket-campaign.ts in its own process (started with --expose-gc, so heap figures are
 * after full collections). Prints what it found; exits 1 if any invariant broke, so CI and a
 * long run read the same verdict. The test in socket.fuzz.test.ts runs it with 20,000 streams.
 */
import { parseArgs } from 'node:util';
import { formatCount, formatTable } from '../../bench/support/measure.js';
import { DEFAULT_CAMPAIGN, runCampaign, type CampaignReport } from './socket-campaign.js';

/** Heap growth over a whole campaign that still counts as flat: noise of caches, not a leak per connection. */
const FLAT_HEAP_BYTES = 8 * 1024 * 1024;

/** Every invariant the campaign checks, as the sentences that are false. */
function brokenInvariants(report: CampaignReport): string[] {
  const broken: string[] = [];
  if (report.violationCount > 0) broken.push(`${report.violationCount} streams were not treated as the protocol requires`);
  if (report.badClosedByServer !== report.badConnections) broken.push(`${report.badConnections - report.badClosedByServer} bad connections were not closed by the server`);
  if (report.goodCalls.failed > 0 || report.goodCalls.ok === 0) broken.push(`good calls: ${report.goodCalls.ok} ok, ${report.goodCalls.failed} failed`);
  if (report.unhandledRejections > 0) broken.push(`${report.unhandledRejections} unhandled rejections`);
  if (report.uncaughtExceptions > 0) broken.push(`${report.uncaughtExceptions} uncaught exceptions`);
  if (report.serverConnectionsLeft !== 0) broken.push(`the server still holds ${report.serverConnectionsLeft} fuzzed connections`);
  if (report.heapAfter - report.heapBefore > FLAT_HEAP_BYTES) broken.push(`heap grew by ${mib(report.heapAfter - report.heapBefore)}`);
  if (report.fdsAfter !== report.fdsBefore) broken.push(`file descriptors ${report.fdsBefore} → ${report.fdsAfter}`);
  return broken;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function printReport(report: CampaignReport, broken: readonly string[]): void {
  const rows: string[][] = [
    ['streams fuzzed', formatCount(report.streams)],
    ['bad connections (server must close)', formatCount(report.badConnections)],
    ['  closed by the server', formatCount(report.badClosedByServer)],
    ['streams ending between boxes', formatCount(report.byExpectation['between-boxes'])],
    ['  probe answered (clean state)', formatCount(report.byOutcome['probe-answered'] ?? 0)],
    ['streams ending inside a box', formatCount(report.byExpectation['mid-box'])],
    ['good calls ok / failed', `${formatCount(report.goodCalls.ok)} / ${formatCount(report.goodCalls.failed)}`],
    ['unhandled rejections', String(report.unhandledRejections)],
    ['heap before / after (after GC)', `${mib(report.heapBefore)} / ${mib(report.heapAfter)}`],
    ['fds before / after', `${report.fdsBefore} / ${report.fdsAfter}`],
    ['server log lines', Object.entries(report.serverLogLines).map(([level, n]) => `${level} ${n}`).join(', ')],
    ['elapsed / CPU', `${(report.elapsedMs / 1000).toFixed(1)} s / ${(report.cpuMs / 1000).toFixed(1)} s`],
  ];
  process.stdout.write(`${formatTable(['socket fuzzing', ''], rows)}\n`);
  process.stdout.write(`damage: ${JSON.stringify(report.byDamage)}\n`);
  for (const violation of report.violations) process.stdout.write(`violation: ${JSON.stringify(violation)}\n`);
  for (const failure of report.goodCalls.failures) process.stdout.write(`good call failed: ${failure}\n`);
  process.stdout.write(broken.length === 0 ? 'all invariants held\n' : broken.map((line) => `BROKEN: ${line}\n`).join(''));
}

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '20000' },
    seed: { type: 'string', default: String(DEFAULT_CAMPAIGN.seed) },
    concurrency: { type: 'string', default: String(DEFAULT_CAMPAIGN.concurrency) },
    json: { type: 'boolean', default: false },
  },
});
const report = await runCampaign({
  ...DEFAULT_CAMPAIGN,
  streams: Number(values.streams),
  seed: Number(values.seed),
  concurrency: Number(values.concurrency),
  onProgress: values.json ? undefined : (done) => done % 5_000 === 0 && process.stderr.write(`[fuzz] ${formatCount(done)} streams\n`),
});
const broken = brokenInvariants(report);
if (values.json) process.stdout.write(`${JSON.stringify({ ...report, broken })}\n`);
else printReport(report, broken);
process.exitCode = broken.length === 0 ? 0 : 1;
