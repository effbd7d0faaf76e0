/**
 * `ampstate trial --node`: the same manager running node:test files on ampstate's TypeScript
 * workers (dist/actors/trial/worker-main.js). Needs no Python.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { lastValueFrom, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { TrialManager, type TrialManagerOptions } from '../../actors/trial/manager.js';
import { listNodeTests } from '../../actors/trial/node-tests.js';
import { parseSummaryLine, type TrialEvent, type TrialResult, type TrialSummary } from '../../actors/trial/results.js';
import { registerTrialCommand } from '../../bin/commands/trial.js';
import { JS_FIXTURES, ROOT, collectingStream, ensureWorkerBuilt, freshDirectory, runProcess } from './helpers.js';

const OUTCOMES = join(JS_FIXTURES, 'outcomes.test.mjs');
const MORE = join(JS_FIXTURES, 'more.test.mjs');
const CRASH = join(JS_FIXTURES, 'special/worker-crash.test.mjs');
type Counts = ReturnType<typeof parseSummaryLine> extends infer P ? (P extends { counts: infer C } ? C : never) : never;
const expected = JSON.parse(readFileSync(join(JS_FIXTURES, 'outcomes.expected.json'), 'utf8')) as { counts: Counts };

async function runNode(names: string[], options: Partial<TrialManagerOptions> = {}) {
  let output = '';
  const manager = new TrialManager({ names, jobs: 4, node: true, cwd: freshDirectory(), output: (s) => (output += s), ...options });
  const events = lastValueFrom(manager.events$.pipe(toArray()));
  const results = lastValueFrom(manager.results$.pipe(toArray()));
  const summary: TrialSummary = await manager.run();
  return { summary, output, events: await events, results: await results };
}

function countsOf(summary: TrialSummary) {
  return parseSummaryLine(summary.line)!.counts;
}

describe('trial manager → ampstate TypeScript workers (--node)', () => {
  beforeAll(() => ensureWorkerBuilt(), 120_000);

  it('-j 4 gives the same counts as a serial run (-j 1) and as `node --test` on the same files', async () => {
    const inspected: InspectionEvent[] = [];
    const [parallel, serial, nodeTest] = await Promise.all([
      runNode([OUTCOMES, MORE], { inspect: (e) => inspected.push(e) }),
      runNode([OUTCOMES, MORE], { jobs: 1, dialect: '22.4' }),
      runProcess(process.execPath, ['--test', '--test-reporter=tap', OUTCOMES, MORE], { cwd: freshDirectory() }),
    ]);
    // outcomes.test.mjs (see outcomes.expected.json) plus more.test.mjs (4 passes, 1 RangeError).
    const want: Counts = { ...expected.counts, errors: expected.counts.errors + 1, successes: expected.counts.successes + 4 };
    expect(countsOf(parallel.summary)).toEqual(want);
    expect(countsOf(serial.summary)).toEqual(want);
    expect(parallel.summary.line).toBe('FAILED (skips=1, expectedFailures=1, failures=2, errors=4, unexpectedSuccesses=1, successes=7)');
    expect(parallel.summary).toMatchObject({ testsRun: 16, synthesized: 0 });
    expect(serial.summary.testsRun).toBe(16);
    // node:test's own tally maps onto trial's: pass=successes, fail=failures+errors, todo=both todo kinds.
    const tally = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(nodeTest.stdout)![1]);
    expect(tally('tests')).toBe(16);
    expect(tally('pass')).toBe(want.successes);
    expect(tally('fail')).toBe(want.failures + want.errors);
    expect(tally('skipped')).toBe(want.skips);
    expect(tally('todo')).toBe(want.expectedFailures + want.unexpectedSuccesses);
    // Four workers shared the queue; each ran in the stream dialect and stopped cleanly.
    const ranOn = new Set(parallel.events.flatMap((e) => (e.type === 'test' ? [e.worker] : [])));
    expect([...ranOn].sort()).toEqual([0, 1, 2, 3]);
    const exits = parallel.events.filter((e): e is Extract<TrialEvent, { type: 'worker' }> => e.type === 'worker' && e.state !== 'spawned');
    expect(exits.map((e) => [e.state, e.exitCode])).toEqual(Array(4).fill(['exited', 0]));
    // A worker's dialect shows in its first error-like result (one that only passed tells nothing).
    expect(new Set(exits.map((e) => e.dialect ?? '22.10'))).toEqual(new Set(['22.10']));
    expect(exits.some((e) => e.dialect === '22.10')).toBe(true);
    // Streams carried the 70 000-byte message whole; the 22.4 dialect had to cut it (but reported it).
    const large = (r: TrialResult[]) => r.find((x) => x.test.endsWith('::large error'))!;
    expect(large(parallel.results).message).toBe('E'.repeat(70000));
    expect(Buffer.byteLength(large(serial.results).message!)).toBeLessThanOrEqual(65535);
    // The report: tree by file and suite, tracebacks with the JS source line.
    const lines = parallel.output.split('\n');
    const okFails = lines.indexOf(`      ok fails ... ${' '.repeat(79 - 19 - 6)}[FAIL]`);
    expect(okFails, lines.filter((l) => l.includes('ok fails')).join('\n')).toBeGreaterThan(2);
    expect(lines.slice(okFails - 2, okFails)).toEqual(['  nested suite', '    inner']);
    const has = (text: string) => parallel.output.includes(text);
    expect(has(`  File "${OUTCOMES}", line 24, in TestContext.<anonymous>\n    assert.strictEqual(1, 2);\nbuiltins.AssertionError: Expected values to be strictly equal:`)).toBe(true);
    expect(has(`builtins.ValueError: RangeError: Invalid array length\n\n${MORE}::math::throws RangeError\n`)).toBe(true);
    // The manager ran its machines with the inspector: one pool, one run lifecycle per worker.
    const machineIds = new Set(inspected.map((e) => (e.actorRef as { logic?: { id?: string } }).logic?.id));
    expect(machineIds).toContain('trialWorkerPool');
    expect(machineIds).toContain('trialRun');
  });

  it('a worker killed mid-Run: that test is an error, the other worker runs the rest', async () => {
    const run = await runNode([CRASH], { jobs: 2 });
    expect(run.summary.line).toBe('FAILED (errors=1, successes=1)');
    const killed = run.results.find((r) => r.test.endsWith('::kills its worker'))!;
    expect(killed).toMatchObject({ outcome: 'error', errorClass: 'ampstate.trial.WorkerDied', origin: 'worker-died' });
    expect(killed.message).toMatch(/^worker \d \(pid \d+\) was killed by SIGKILL while running /);
  });

  it('lists a directory, files and suite prefixes into ids', async () => {
    const ids = await listNodeTests(['test/trial/js-fixtures', 'test/trial/js-fixtures/more.test.mjs::math', 'test/trial/js-fixtures/nope.test.mjs'], { cwd: ROOT });
    expect(ids).toHaveLength(11 + 5 + 2 + 1);
    expect(ids[0]).toBe('test/trial/js-fixtures/more.test.mjs::math::adds');
    expect(ids).toContain('test/trial/js-fixtures/outcomes.test.mjs::nested suite::inner::ok fails');
    expect(ids).toContain('test/trial/js-fixtures/special/worker-crash.test.mjs::survivor');
    expect(ids[ids.length - 1]).toBe('test/trial/js-fixtures/nope.test.mjs'); // kept: the worker reports it
  });

  it('the CLI: `ampstate trial -j 2 --node FILE::suite FILE::test`', async () => {
    const stdout = collectingStream();
    let code: number | undefined;
    const program = new Command('ampstate').exitOverride();
    registerTrialCommand(program, { stdout: stdout.stream, setExitCode: (c) => (code = c), cwd: freshDirectory() });
    await program.parseAsync(['node', 'ampstate', 'trial', '-j', '2', '--node', `${MORE}::math`, `${OUTCOMES}::pass one`]);
    const out = stdout.text();
    expect(code).toBe(1);
    expect(out).toMatch(/^Running 6 tests\.\n/);
    expect(out.endsWith('FAILED (errors=1, successes=5)\n')).toBe(true);
  });
});
