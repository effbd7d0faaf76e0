/**
 * The progress bar of `ampstate trial` (actors/trial/progress.ts): its ETA arithmetic, drawn only on
 * a TTY from the manager's events, removed at the end of the run.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { pino } from 'pino';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { DURATION_CACHE_NAME, TrialDurations } from '../../actors/trial/duration-cache.js';
import { TrialProgress, estimateRemainingMs, formatDuration, statusText, type ProgressStream } from '../../actors/trial/progress.js';
import type { TrialEvent, TrialOutcome } from '../../actors/trial/results.js';
import { registerTrialCommand } from '../../bin/commands/trial.js';
import { temporaryDirectory } from '../support/temp-directory.js';
import { TRIAL_RUN_TIMEOUT, TWISTED_22_4, describeEachTwisted, freshDirectory, pythonEnv } from './helpers.js';

function stream(isTTY: boolean): { stream: ProgressStream; text: () => string } {
  let text = '';
  const writable = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  if (isTTY) Object.assign(writable, { isTTY: true, columns: 120 });
  return { stream: writable, text: () => text };
}

function testEvent(test: string, outcome: TrialOutcome, durationMs: number): TrialEvent {
  return { type: 'test', test, worker: 0, durationMs, results: [{ outcome, test, reportedName: test, origin: 'worker' }] };
}

const DONE: TrialEvent = {
  type: 'done',
  summary: { testsRun: 3, successes: 2, skips: 0, expectedFailures: 0, failures: 1, errors: 0, unexpectedSuccesses: 0, synthesized: 0, passed: false, line: 'FAILED', seconds: 1 },
};

describe('trial progress', () => {
  it('estimates from the rate when nothing was recorded', () => {
    expect(estimateRemainingMs({ total: 10, finished: 0, failed: 0, workers: 2, elapsedMs: 500 })).toBeUndefined();
    expect(estimateRemainingMs({ total: 10, finished: 4, failed: 0, workers: 2, elapsedMs: 2000 })).toBe(3000);
    expect(estimateRemainingMs({ total: 10, finished: 10, failed: 0, workers: 2, elapsedMs: 2000 })).toBe(0);
  });

  it('estimates from the expected remainder, spread over the workers and scaled by this run’s speed', () => {
    const base = { total: 4, finished: 1, failed: 0, workers: 2, elapsedMs: 100, expectedTotalMs: 5000 };
    // 4000 ms expected to remain over 2 workers; nothing measured yet: taken as recorded.
    expect(estimateRemainingMs({ ...base, expectedFinishedMs: 1000, measuredFinishedMs: 0 })).toBe(2000);
    // This run is twice as slow as the recorded ones.
    expect(estimateRemainingMs({ ...base, expectedFinishedMs: 1000, measuredFinishedMs: 2000 })).toBe(4000);
    // One wild test scales by at most 4.
    expect(estimateRemainingMs({ ...base, expectedFinishedMs: 1000, measuredFinishedMs: 100_000 })).toBe(8000);
  });

  it('says what is done, what failed and how long is left', () => {
    expect(formatDuration(42_400)).toBe('42s');
    expect(formatDuration(185_000)).toBe('3m05s');
    expect(formatDuration(3_725_000)).toBe('1h02m');
    expect(statusText({ total: 300, finished: 12, failed: 1, workers: 2, elapsedMs: 4000 })).toBe('12/300 tests, 1 failed, 4s elapsed, ETA 1m36s');
    expect(statusText({ total: 300, finished: 0, failed: 0, workers: 2, elapsedMs: 0 })).toBe('0/300 tests, 0s elapsed, ETA ?');
  });

  it('draws nothing on a stream that is not a TTY', () => {
    const events = new Subject<TrialEvent>();
    const output = stream(false);
    expect(TrialProgress.attach(events, { stream: output.stream })).toBeUndefined();
    events.next({ type: 'started', tests: 3, workers: 2, directory: undefined });
    events.next(testEvent('a', 'success', 5));
    events.complete();
    expect(output.text()).toBe('');
  });

  it('draws on a TTY from the events and clears its line when the run is done', () => {
    const events = new Subject<TrialEvent>();
    const output = stream(true);
    let now = 0;
    const progress = TrialProgress.attach(events, { stream: output.stream, now: () => now })!;
    expect(progress).toBeDefined();
    events.next({ type: 'started', tests: 3, workers: 2, directory: undefined });
    expect(output.text()).toContain('0/3 tests, 0s elapsed, ETA ?');
    now = 2000;
    events.next(testEvent('a', 'success', 5));
    events.next(testEvent('b', 'failure', 5));
    expect(progress.state()).toMatchObject({ total: 3, finished: 2, failed: 1, elapsedMs: 2000 });
    now = 3000;
    events.next(testEvent('c', 'success', 5));
    events.next(DONE);
    // The final render, then the line is cleared (clearOnComplete) and nothing is left scheduled.
    expect(output.text()).toContain('3/3 tests, 1 failed, 3s elapsed, ETA 0s');
    expect(output.text()).toMatch(/\x1b\[2K$/);
    // No cursor save/restore (it would jump back over a report sharing the terminal), no autowrap switch.
    expect(output.text()).not.toMatch(/\x1b[78]|\x1b\[\?7[hl]/);
    const length = output.text().length;
    progress.clearForReport();
    expect(output.text().length).toBe(length);
  });

  it('takes its ETA from the durations the run was scheduled by', () => {
    const path = join(temporaryDirectory('ampstate-progress-'), DURATION_CACHE_NAME);
    writeFileSync(path, JSON.stringify({ format: 'ampstate-trial-durations', version: 1, runs: 1, tests: { slow: { ms: 4000, run: 1 }, fast: { ms: 1000, run: 1 } } }));
    const durations = new TrialDurations(path, pino({ level: 'silent' }));
    durations.schedule(['fast', 'slow']);
    const events = new Subject<TrialEvent>();
    const progress = TrialProgress.attach(events, { stream: stream(true).stream, durations, now: () => 0 })!;
    events.next({ type: 'started', tests: 2, workers: 1, directory: undefined });
    // slow took twice its recorded time: fast (1000 ms expected) should take 2000 ms.
    events.next(testEvent('slow', 'success', 8000));
    expect(progress.state()).toMatchObject({ expectedTotalMs: 5000, expectedFinishedMs: 4000, measuredFinishedMs: 8000 });
    expect(estimateRemainingMs(progress.state())).toBe(2000);
    progress.stop();
  });
});

describeEachTwisted('ampstate trial progress bar', (twisted) => {
  const SAMPLE = 'ampstate_sample.test_outcomes.OutcomeTests';
  async function cli(args: string[], stderrIsTTY: boolean, stdoutIsTTY = false) {
    const stdout = stream(stdoutIsTTY);
    const stderr = stream(stderrIsTTY);
    const cwd = freshDirectory();
    let code = -1;
    const program = new Command().exitOverride();
    registerTrialCommand(program, { stdout: stdout.stream, stderr: stderr.stream, setExitCode: (c) => (code = c), cwd });
    const previous = process.env.PYTHONPATH;
    process.env.PYTHONPATH = pythonEnv([], twisted).PYTHONPATH;
    try {
      await program.parseAsync(['node', 'ampstate', 'trial', '-j', '2', '--python', twisted.python, ...args, `${SAMPLE}.test_pass_one`, `${SAMPLE}.test_fail_explicit`]);
    } finally {
      if (previous === undefined) delete process.env.PYTHONPATH;
      else process.env.PYTHONPATH = previous;
    }
    return { out: stdout.text(), err: stderr.text(), code, cwd };
  }

  it('draws on a terminal stderr only, never into the report, and not with --no-progress', async () => {
    const drawn = await cli([], true);
    expect(drawn.code).toBe(1);
    expect(drawn.err).toContain('2/2 tests, 1 failed');
    expect(drawn.out).not.toMatch(/\x1b|tests, .* elapsed/);
    expect(drawn.out.endsWith('FAILED (failures=1, successes=1)\n')).toBe(true);
    expect(existsSync(join(drawn.cwd, DURATION_CACHE_NAME))).toBe(true);

    const piped = await cli([], false);
    expect(piped.err).toBe('');
    const off = await cli(['--no-progress', '--no-durations'], true);
    expect(off.err).toBe('');
    // Same report either way; its tree is in completion order, so compare the lines as a set.
    const lines = (report: string) => report.replace(/Ran 2 tests in .*/, '').split('\n').sort();
    expect(lines(off.out)).toEqual(lines(piped.out));
    expect(existsSync(join(off.cwd, DURATION_CACHE_NAME))).toBe(false);

    // One terminal for both: report text first clears the bar's line; the report is unchanged.
    const shared = await cli([], true, true);
    expect(shared.err).toContain('\r\x1b[2K');
    expect(lines(shared.out)).toEqual(lines(piped.out));
  }, TRIAL_RUN_TIMEOUT);
}, [TWISTED_22_4]);
