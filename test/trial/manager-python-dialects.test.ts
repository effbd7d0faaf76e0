/**
 * Where stock workers of the two Twisted versions differ (docs/trial-protocol.md §0, §5, §6): the
 * ampstate manager on ampstate_sample, whose results include two 70 KB messages that only the
 * stream dialect (24.11) can carry, and a manager told the other version's dialect.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parseSummaryLine, type TrialEvent } from '../../actors/trial/results.js';
import { TRIAL_RUN_TIMEOUT, TWISTED_22_4, TWISTED_24_11, describeEachTwisted, freshDirectory, resultBlocks, runManager, twistedTrial } from './helpers.js';

const SAMPLE = 'ampstate_sample.test_outcomes';
const SERIAL_SUMMARY = 'FAILED (skips=1, expectedFailures=1, failures=3, errors=2, unexpectedSuccesses=1, successes=4)';
/** Blocks the manager rebuilds byte for byte as the serial reporter prints them. */
const SAME_BLOCKS = ['OutcomeTests.test_skip', 'OutcomeTests.test_fail_assert_equal', 'OutcomeTests.test_fail_explicit', 'OutcomeTests.test_error', 'OutcomeTests.test_todo_passes'];
const LARGE = [`${SAMPLE}.LargeMessageTests.test_large_error`, `${SAMPLE}.LargeMessageTests.test_large_failure`];

type TestEvent = Extract<TrialEvent, { type: 'test' }>;
const testEvents = (events: readonly TrialEvent[]) => events.filter((e): e is TestEvent => e.type === 'test');

describeEachTwisted('trial manager → stock Twisted workers, where the versions differ', (twisted) => {
  async function sampleRuns() {
    const [mine, serial] = await Promise.all([runManager(twisted, ['ampstate_sample']), twistedTrial(0, ['ampstate_sample'], freshDirectory(), twisted)]);
    expect(serial.summary).toBe(SERIAL_SUMMARY);
    expect(serial.stdout).toContain('Ran 12 tests in');
    expect(mine.summary.testsRun).toBe(12);
    // Every other result block is byte-for-byte the serial reporter's (tracebacks rebuilt from the
    // worker's frames, source lines read back, trial's frame trimming), except [TODO]: under -j
    // the manager only has the message, as Twisted's own -j manager prints it.
    const theirs = resultBlocks(serial.stdout);
    const mineBlocks = resultBlocks(mine.output);
    for (const test of SAME_BLOCKS) expect(mineBlocks.get(`${SAMPLE}.${test}`), test).toBe(theirs.get(`${SAMPLE}.${test}`));
    expect(mineBlocks.get(`${SAMPLE}.OutcomeTests.test_todo_fails`)).toBe(`[TODO]\nReason: 'known to be broken'\nstill broken\n\n${SAMPLE}.OutcomeTests.test_todo_fails\n`);
    // Log output reached the per-worker test.log (ampstate's layout whatever the worker's version).
    const temp = join(mine.cwd, '_trial_temp');
    const logs = readdirSync(temp).filter((d) => /^\d+$/.test(d)).map((d) => readFileSync(join(temp, d, 'test.log'), 'utf8')).join('');
    expect(logs).toContain('ampstate log line\n');
    expect(logs).toContain(`--> ${SAMPLE}.OutcomeTests.test_logs <--\n`);
    // The manager told the worker's dialect from what it sent.
    expect(mine.events.some((e) => e.type === 'worker' && e.state === 'exited' && e.dialect === twisted.dialect)).toBe(true);
    return { mine, serial, theirs, mineBlocks };
  }

  if (twisted === TWISTED_22_4) {
    it('ampstate_sample: counts equal the serial run, except the two 70 KB results 22.4 workers lose (Twisted 22.4)', async () => {
      const { mine, serial } = await sampleRuns();
      // docs/trial-protocol.md §5: a 22.4 worker cannot send a value over 65535 bytes, so
      // test_large_error (an error) and test_large_failure (a failure) arrive with no outcome. We
      // report both as errors (ampstate.trial.NoOutcomeReported) instead of losing them as
      // `trial -j` does: failures 3 → 2, errors 2 → 3, every other counter and the test count equal.
      expect(mine.summary.line).toBe('FAILED (skips=1, expectedFailures=1, failures=2, errors=3, unexpectedSuccesses=1, successes=4)');
      const serialCounts = parseSummaryLine(serial.summary)!.counts;
      expect(parseSummaryLine(mine.summary.line)!.counts).toEqual({ ...serialCounts, failures: serialCounts.failures - 1, errors: serialCounts.errors + 1 });
      expect(mine.summary.synthesized).toBe(2);
      const tests = testEvents(mine.events);
      const lost = tests.filter((t) => t.results.some((r) => r.origin !== 'worker'));
      expect(lost.map((t) => t.test).sort()).toEqual(LARGE);
      for (const t of lost) {
        expect(t.results).toHaveLength(1);
        expect(t.results[0]).toMatchObject({ outcome: 'error', errorClass: 'ampstate.trial.NoOutcomeReported', origin: 'no-outcome' });
        expect(t.results[0]!.message).toMatch(/65535 bytes \(64 KiB; docs\/trial-protocol\.md §5/);
      }
      const kinds = tests.flatMap((t) => t.results.map((r) => r.outcome)).sort();
      expect(kinds).toEqual(['error', 'error', 'error', 'expectedFailure', 'failure', 'failure', 'skip', 'success', 'success', 'success', 'success', 'unexpectedSuccess']);
    }, TRIAL_RUN_TIMEOUT);

    it('--dialect 22.10 against a 22.4 worker: the mismatch becomes an error of the test, not a lost result (Twisted 22.4)', async () => {
      const mine = await runManager(twisted, [`${SAMPLE}.OutcomeTests.test_error`, `${SAMPLE}.OutcomeTests.test_pass_one`], { dialect: '22.10' });
      expect(mine.summary.line).toBe('FAILED (errors=1, successes=1)');
      expect(mine.output).toContain('ampstate.trial.MalformedResult: worker 0 sent AddError in the 22.4 dialect; this manager was told to speak 22.10');
    }, TRIAL_RUN_TIMEOUT);
  }

  if (twisted === TWISTED_24_11) {
    it('ampstate_sample: the same counts as the serial run, 70 KB results included, streamed whole (Twisted 24.11)', async () => {
      const { mine, serial, theirs, mineBlocks } = await sampleRuns();
      expect(mine.summary.line).toBe(serial.summary);
      expect(mine.summary.synthesized).toBe(0);
      const tests = testEvents(mine.events);
      expect(tests.every((t) => t.results.every((r) => r.origin === 'worker'))).toBe(true);
      // The 70 000-character messages arrive through StreamOpen/StreamWrite in 65535-byte chunks,
      // whole: their blocks are the serial reporter's too.
      for (const test of LARGE) {
        const [result] = tests.find((t) => t.test === test)!.results;
        expect(result!.message).toHaveLength(70_000);
        expect(mineBlocks.get(test), test).toBe(theirs.get(test));
      }
    }, TRIAL_RUN_TIMEOUT);

    it('--dialect 22.4 against a 24.11 worker: StreamOpen is refused, the worker answers success=False, the test gets an error (Twisted 24.11)', async () => {
      const error = `${SAMPLE}.OutcomeTests.test_error`;
      const mine = await runManager(twisted, [error, `${SAMPLE}.OutcomeTests.test_pass_one`], { dialect: '22.4', jobs: 1 });
      expect(mine.summary.line).toBe('FAILED (errors=1, successes=1)');
      expect(mine.output).toContain(`ampstate.trial.NoOutcomeReported: worker 0 answered Run(${error}) with success=False and reported no outcome: its result reports failed`);
      // The worker logs the refusal; its extra AddError (docs/trial-protocol.md §4.4) needs a stream
      // too, so that fails as well, and the worker carries on with the next Run.
      const logs = mine.events.flatMap((e) => (e.type === 'log' && e.test === error ? [e.text] : []));
      expect(logs.some((text) => text.startsWith(`Result reporting for ${error} failed`) && text.includes("Unhandled Command: b'StreamOpen'"))).toBe(true);
      expect(logs.some((text) => text.startsWith('Additionally, reporting the reporting failure failed.'))).toBe(true);
      expect(mine.events.filter((e) => e.type === 'worker' && e.state !== 'spawned').map((e) => (e as { exitCode?: number }).exitCode)).toEqual([0]);
    }, TRIAL_RUN_TIMEOUT);
  }
});
