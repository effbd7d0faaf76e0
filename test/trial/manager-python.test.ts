/**
 * The ampstate trial manager driving stock Twisted workers (workertrial.py of Debian's Twisted 22.4),
 * compared with Twisted's own manager on the same names. Needs /usr/bin/python3 with Twisted
 * (AMPSTATE_PYTHON to override); under CI=true its absence fails the suite.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { lastValueFrom, toArray } from 'rxjs';
import { expect, it } from 'vitest';
import { TrialManager, type TrialManagerOptions } from '../../actors/trial/manager.js';
import { parseSummaryLine, type TrialEvent, type TrialSummary } from '../../actors/trial/results.js';
import { registerTrialCommand } from '../../bin/commands/trial.js';
import { FIXTURES, PYTHON, collectingStream, describeWithTwisted, freshDirectory, pythonEnv, twistedTrial } from './helpers.js';

interface OurRun {
  readonly summary: TrialSummary;
  readonly output: string;
  readonly events: TrialEvent[];
  readonly cwd: string;
}

async function ours(names: string[], options: Partial<TrialManagerOptions> = {}, extraPath: string[] = []): Promise<OurRun> {
  const cwd = options.cwd ?? freshDirectory();
  let output = '';
  const manager = new TrialManager({ names, jobs: 2, python: PYTHON, cwd, env: pythonEnv(extraPath), output: (s) => (output += s), ...options });
  const events = lastValueFrom(manager.events$.pipe(toArray()));
  const summary = await manager.run();
  return { summary, output, events: await events, cwd };
}

/** The `=====`-separated result blocks of a trial report, by their first test id. */
function blocks(report: string): Map<string, string> {
  const byTest = new Map<string, string>();
  const body = report.split(`${'-'.repeat(79)}\n`)[0] ?? '';
  for (const block of body.split(`${'='.repeat(79)}\n`).slice(1)) {
    const tests = block.trimEnd().split('\n\n').pop()!.split('\n');
    byTest.set(tests[0]!, block);
  }
  return byTest;
}

const SAMPLE = 'ampstate_sample.test_outcomes';

describeWithTwisted('trial manager → stock Twisted workers', () => {
  for (const [name, expected] of [
    ['twisted.test.test_amp', 'PASSED (successes=139)'],
    ['twisted.trial.test.test_runner', 'PASSED (successes=66)'],
  ] as const) {
    it(`${name}: same summary as \`python3 -m twisted.trial -j 2\``, async () => {
      const [mine, theirs] = await Promise.all([ours([name]), twistedTrial(2, [name], freshDirectory())]);
      expect(theirs.code).toBe(0);
      expect(theirs.summary).toBe(expected);
      expect(mine.summary.line).toBe(theirs.summary);
      expect(mine.summary).toMatchObject({ passed: true, synthesized: 0 });
      const count = Number(/Running (\d+) tests\./.exec(theirs.stdout)![1]);
      expect(mine.output.startsWith(`Running ${count} tests.\n`)).toBe(true);
      expect(mine.summary.testsRun).toBe(count);
      expect(mine.output).toMatch(new RegExp(`\\nRan ${count} tests in \\d+\\.\\d{3}s\\n\\n${expected.replace(/[()]/g, '\\$&')}\\n$`));
      // Both workers ran and stopped cleanly once fd 3 was closed; each speaks the 22.4 dialect.
      const workers = mine.events.filter((e): e is Extract<TrialEvent, { type: 'worker' }> => e.type === 'worker' && e.state !== 'spawned');
      expect(workers.map((w) => [w.worker, w.state, w.exitCode]).sort()).toEqual([
        [0, 'exited', 0],
        [1, 'exited', 0],
      ]);
    });
  }

  it('ampstate_sample: counts equal the serial run, except the two 70 KB results 22.4 workers lose', async () => {
    const [mine, serial] = await Promise.all([ours(['ampstate_sample']), twistedTrial(0, ['ampstate_sample'], freshDirectory())]);
    expect(serial.summary).toBe('FAILED (skips=1, expectedFailures=1, failures=3, errors=2, unexpectedSuccesses=1, successes=4)');
    expect(serial.stdout).toContain('Ran 12 tests in');
    // The documented difference (docs/trial-protocol.md §5): a 22.4 worker cannot send a value over 65535 bytes, so
    // LargeMessageTests.test_large_error (an error) and test_large_failure (a failure) arrive with no
    // outcome. We report both as errors (ampstate.trial.NoOutcomeReported) instead of losing them as
    // `trial -j` does: failures 3 → 2, errors 2 → 3, every other counter and the test count equal.
    expect(mine.summary.line).toBe('FAILED (skips=1, expectedFailures=1, failures=2, errors=3, unexpectedSuccesses=1, successes=4)');
    const serialCounts = parseSummaryLine(serial.summary)!.counts;
    const { passed: _passed, counts } = parseSummaryLine(mine.summary.line)!;
    expect(counts).toEqual({ ...serialCounts, failures: serialCounts.failures - 1, errors: serialCounts.errors + 1 });
    expect(mine.summary.testsRun).toBe(12);
    expect(mine.summary.synthesized).toBe(2);
    const tests = mine.events.filter((e): e is Extract<TrialEvent, { type: 'test' }> => e.type === 'test');
    const lost = tests.filter((t) => t.results.some((r) => r.origin !== 'worker'));
    expect(lost.map((t) => t.test).sort()).toEqual([`${SAMPLE}.LargeMessageTests.test_large_error`, `${SAMPLE}.LargeMessageTests.test_large_failure`]);
    for (const t of lost) {
      expect(t.results).toHaveLength(1);
      expect(t.results[0]).toMatchObject({ outcome: 'error', errorClass: 'ampstate.trial.NoOutcomeReported', origin: 'no-outcome' });
      expect(t.results[0]!.message).toMatch(/65535 bytes \(64 KiB; docs\/trial-protocol\.md §5/);
    }
    // Every other result block is byte-for-byte the serial reporter's (tracebacks rebuilt from the
    // worker's frames, source lines read back, trial's frame trimming), except [TODO]: under -j
    // the manager only has the message, as Twisted's own -j manager prints it.
    const theirs = blocks(serial.stdout);
    const mineBlocks = blocks(mine.output);
    for (const test of ['OutcomeTests.test_skip', 'OutcomeTests.test_fail_assert_equal', 'OutcomeTests.test_fail_explicit', 'OutcomeTests.test_error', 'OutcomeTests.test_todo_passes']) {
      expect(mineBlocks.get(`${SAMPLE}.${test}`)).toBe(theirs.get(`${SAMPLE}.${test}`));
    }
    expect(mineBlocks.get(`${SAMPLE}.OutcomeTests.test_todo_fails`)).toBe(`[TODO]\nReason: 'known to be broken'\nstill broken\n\n${SAMPLE}.OutcomeTests.test_todo_fails\n`);
    // Log output reached the per-worker test.log (22.4 layout), and results$ gives typed events.
    const logs = readdirSync(join(mine.cwd, '_trial_temp')).filter((d) => /^\d+$/.test(d)).map((d) => readFileSync(join(mine.cwd, '_trial_temp', d, 'test.log'), 'utf8')).join('');
    expect(logs).toContain('ampstate log line\n');
    expect(logs).toContain(`--> ${SAMPLE}.OutcomeTests.test_logs <--\n`);
    const kinds = tests.flatMap((t) => t.results.map((r) => r.outcome)).sort();
    expect(kinds).toEqual(['error', 'error', 'error', 'expectedFailure', 'failure', 'failure', 'skip', 'success', 'success', 'success', 'success', 'unexpectedSuccess']);
    expect(mine.events.some((e) => e.type === 'worker' && e.state === 'exited' && e.dialect === '22.4')).toBe(true);
  });

  it('spawns workers exactly as docs/trial-protocol.md §1.1 and stops them by closing fd 3', async () => {
    const modules = freshDirectory('ampstate-trial-mods-');
    mkdirSync(join(modules, 'spawnprobe'));
    writeFileSync(join(modules, 'spawnprobe', '__init__.py'), '');
    const record = join(modules, 'record.json');
    writeFileSync(
      join(modules, 'spawnprobe', 'test_spawn.py'),
      [
        'import json, os, stat',
        'from twisted.trial import unittest',
        'class SpawnTests(unittest.TestCase):',
        '    def test_record(self):',
        '        argv = open("/proc/self/cmdline", "rb").read().split(b"\\0")[:-1]',
        '        fds = {}',
        '        for fd in range(6):',
        '            try:',
        '                mode = os.fstat(fd).st_mode',
        '                fds[fd] = "socket" if stat.S_ISSOCK(mode) else "fifo" if stat.S_ISFIFO(mode) else "other"',
        '            except OSError:',
        '                fds[fd] = None',
        `        info = {"argv": [a.decode() for a in argv], "pythonpath": os.environ.get("PYTHONPATH"), "cwd": os.getcwd(), "fds": fds}`,
        `        with open(${JSON.stringify(record)}, "w") as f:`,
        '            json.dump(info, f)',
        '',
      ].join('\n'),
    );
    const mine = await ours(['spawnprobe'], { spawn: 'lazy', workerArguments: ['--force-gc'] }, [modules]);
    expect(mine.summary.line).toBe('PASSED (successes=1)');
    const info = JSON.parse(readFileSync(record, 'utf8')) as { argv: string[]; pythonpath: string; cwd: string; fds: Record<string, string | null> };
    const workertrial = execFileSync(PYTHON, ['-c', 'import twisted.trial._dist.workertrial as m; print(m.__file__)'], { encoding: 'utf8' }).trim();
    expect(info.argv).toEqual([PYTHON, workertrial, '--force-gc']);
    const path = info.pythonpath.split(':');
    expect(path[0]).toBe(mine.cwd); // sys.path[0] of `python -m twisted.trial` is the cwd
    expect(path.slice(1, 3)).toEqual([modules, FIXTURES]);
    expect(path).toContain('/usr/lib/python3/dist-packages');
    expect(info.cwd).toBe(join(mine.cwd, '_trial_temp', '0')); // after Start
    // fds 0–4 are connected (Node's stdio "pipes" are socket pairs); nothing else leaked.
    expect([0, 1, 2, 3, 4].map((fd) => info.fds[fd])).toEqual(['socket', 'socket', 'socket', 'socket', 'socket']);
    // min(tests, -j) = 1 worker; 22.4 layout: marker + per-worker dir with the three logs.
    expect(readdirSync(join(mine.cwd, '_trial_temp')).sort()).toEqual(['0', '_trial_marker']);
    expect(readdirSync(join(mine.cwd, '_trial_temp', '0')).sort()).toEqual(['err.log', 'out.log', 'test.log']);
    expect(mine.events.filter((e) => e.type === 'worker').map((e) => (e as { state: string }).state)).toEqual(['spawned', 'exited']);
  });

  it('eager spawning (the default) stops surplus workers before Start and leaves Twisted\'s layout', async () => {
    const mine = await ours([`${SAMPLE}.OutcomeTests.test_pass_one`], { jobs: 3 });
    expect(mine.summary.line).toBe('PASSED (successes=1)');
    expect(readdirSync(join(mine.cwd, '_trial_temp')).sort()).toEqual(['0', '_trial_marker']);
    const ends = mine.events.filter((e): e is Extract<TrialEvent, { type: 'worker' }> => e.type === 'worker' && e.state !== 'spawned');
    expect(ends.map((e) => [e.state, e.exitCode])).toEqual([['exited', 0], ['exited', 0], ['exited', 0]]);
    expect(mine.events.find((e) => e.type === 'started')).toMatchObject({ tests: 1, workers: 1 });
  });

  it('a worker that dies mid-Run gives that test an error; the others still run, and never silence', async () => {
    const modules = freshDirectory('ampstate-trial-mods-');
    mkdirSync(join(modules, 'crashprobe'));
    writeFileSync(join(modules, 'crashprobe', '__init__.py'), '');
    writeFileSync(
      join(modules, 'crashprobe', 'test_crash.py'),
      [
        'import os, sys',
        'from twisted.trial import unittest',
        'class CrashTests(unittest.TestCase):',
        '    def test_a_dies(self):',
        '        sys.stderr.write("about to die\\n"); sys.stderr.flush()',
        '        os._exit(3)',
        '    def test_b(self):',
        '        pass',
        '    def test_c(self):',
        '        pass',
        '',
      ].join('\n'),
    );
    const [two, one] = await Promise.all([ours(['crashprobe'], { spawn: 'lazy' }, [modules]), ours(['crashprobe'], { jobs: 1 }, [modules])]);
    expect(two.summary.line).toBe('FAILED (errors=1, successes=2)');
    const died = two.events.find((e): e is Extract<TrialEvent, { type: 'test' }> => e.type === 'test' && e.test.endsWith('test_a_dies'))!;
    expect(died.results[0]).toMatchObject({ outcome: 'error', errorClass: 'ampstate.trial.WorkerDied', origin: 'worker-died' });
    expect(died.results[0]!.message).toMatch(/^worker 0 \(pid \d+\) exited with status 3 while running crashprobe\.test_crash\.CrashTests\.test_a_dies/);
    expect(died.results[0]!.message).toContain('about to die');
    expect(two.output).toContain('[ERROR]\nTraceback (most recent call last):\nFailure: ampstate.trial.WorkerDied: worker 0');
    // With one worker, the tests after the crash still get an outcome each.
    expect(one.summary.line).toBe('FAILED (errors=3)');
    expect(one.events.filter((e) => e.type === 'test').flatMap((e) => (e as Extract<TrialEvent, { type: 'test' }>).results.map((r) => r.origin))).toEqual([
      'worker-died',
      'no-worker',
      'no-worker',
    ]);
  });

  it('--dialect 22.10 against a 22.4 worker: the mismatch becomes an error of the test, not a lost result', async () => {
    const mine = await ours([`${SAMPLE}.OutcomeTests.test_error`, `${SAMPLE}.OutcomeTests.test_pass_one`], { dialect: '22.10' });
    expect(mine.summary.line).toBe('FAILED (errors=1, successes=1)');
    expect(mine.output).toContain('ampstate.trial.MalformedResult: worker 0 sent AddError in the 22.4 dialect; this manager was told to speak 22.10');
  });

  it('the CLI: `ampstate trial -j 2 --python … NAME…` prints the report and sets the exit status', async () => {
    const cwd = freshDirectory();
    const run = async (args: string[]) => {
      const stdout = collectingStream();
      const stderr = collectingStream();
      let code: number | undefined;
      const program = new Command('ampstate').exitOverride();
      registerTrialCommand(program, { stdout: stdout.stream, stderr: stderr.stream, setExitCode: (c) => (code = c), cwd });
      await program.parseAsync(['node', 'ampstate', 'trial', ...args]);
      return { out: stdout.text(), err: stderr.text(), code };
    };
    const previous = process.env.PYTHONPATH;
    process.env.PYTHONPATH = pythonEnv().PYTHONPATH;
    try {
      const passing = await run(['-j', '2', '--python', PYTHON, `${SAMPLE}.OutcomeTests.test_pass_one`, `${SAMPLE}.OutcomeTests.test_skip`]);
      expect(passing.code).toBe(0);
      expect(passing.out).toMatch(/^Running 2 tests\.\n/);
      expect(passing.out.endsWith('PASSED (skips=1, successes=1)\n')).toBe(true);
      const failing = await run(['-j', '1', '--python', PYTHON, '--dialect', '22.4', `${SAMPLE}.OutcomeTests.test_fail_explicit`]);
      expect(failing.code).toBe(1);
      expect(failing.out.endsWith('FAILED (failures=1)\n')).toBe(true);
      const broken = await run(['-j', '1', '--python', '/nonexistent/python3', 'x']);
      expect(broken.code).toBe(2);
      expect(broken.err).toMatch(/^ampstate trial: cannot use \/nonexistent\/python3 for trial: .*--python PATH or set AMPSTATE_PYTHON/);
      expect(broken.err.trim().split('\n')).toHaveLength(1);
    } finally {
      if (previous === undefined) delete process.env.PYTHONPATH;
      else process.env.PYTHONPATH = previous;
    }
  });
});
