/**
 * The ampstate trial manager driving stock Twisted workers (workertrial.py of each Twisted version
 * of test/support/twisted-peers.ts: 22.4 speaks the inline dialect, 24.11 the stream dialect),
 * compared with that version's own manager on the same names. Under CI=true a missing version
 * fails its suite.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { expect, it } from 'vitest';
import { TrialManager, type TrialManagerOptions } from '../../actors/trial/manager.js';
import type { TrialEvent } from '../../actors/trial/results.js';
import { registerTrialCommand } from '../../bin/commands/trial.js';
import { FAKE_CLIENT } from './fake-farm-host.js';
import { FIXTURES, TRIAL_RUN_TIMEOUT, TWISTED_22_4, collectingStream, describeEachTwisted, freshDirectory, pythonEnv, runManager, twistedTrial } from './helpers.js';

const SAMPLE = 'ampstate_sample.test_outcomes';

/** Python for a test module: `fd_kinds(fds)` says what each fd is (socket, fifo, other) or None when closed. */
const FD_KINDS = [
  'import os, stat',
  'def fd_kinds(fds):',
  '    kinds = {}',
  '    for fd in fds:',
  '        try:',
  '            mode = os.fstat(fd).st_mode',
  '            kinds[fd] = "socket" if stat.S_ISSOCK(mode) else "fifo" if stat.S_ISFIFO(mode) else "other"',
  '        except OSError:',
  '            kinds[fd] = None',
  '    return kinds',
];

/** A fresh directory for the workers' path holding package `name`, empty but for one test module. */
function testPackage(name: string, module: string, source: string): string {
  const modules = freshDirectory('ampstate-trial-mods-');
  mkdirSync(join(modules, name));
  writeFileSync(join(modules, name, '__init__.py'), '');
  writeFileSync(join(modules, name, module), source);
  return modules;
}

describeEachTwisted('trial manager → stock Twisted workers', (twisted) => {
  const PYTHON = twisted.python;
  const ours = (names: string[], options: Partial<TrialManagerOptions> = {}, extraPath: string[] = []) => runManager(twisted, names, options, extraPath);

  const suites: [string, string][] = [
    ['twisted.test.test_amp', 'PASSED (successes=139)'],
    ['twisted.protocols.test.test_basic', 'PASSED (successes=89)'],
  ];
  // From 24.x twisted.trial.test imports hypothesis, which the peers do not have.
  if (twisted === TWISTED_22_4) suites.push(['twisted.trial.test.test_runner', 'PASSED (successes=66)']);
  for (const [name, expected] of suites) {
    it(`${name}: same summary as \`python3 -m twisted.trial -j 2\``, async () => {
      const [mine, theirs] = await Promise.all([ours([name]), twistedTrial(2, [name], freshDirectory(), twisted)]);
      expect(theirs.code).toBe(0);
      expect(theirs.summary).toBe(expected);
      expect(mine.summary.line).toBe(theirs.summary);
      expect(mine.summary).toMatchObject({ passed: true, synthesized: 0 });
      const count = Number(/Running (\d+) tests\./.exec(theirs.stdout)![1]);
      expect(mine.output.startsWith(`Running ${count} tests.\n`)).toBe(true);
      expect(mine.summary.testsRun).toBe(count);
      expect(mine.output).toMatch(new RegExp(`\\nRan ${count} tests in \\d+\\.\\d{3}s\\n\\n${expected.replace(/[()]/g, '\\$&')}\\n$`));
      // Both workers ran and stopped cleanly once fd 3 was closed.
      const workers = mine.events.filter((e): e is Extract<TrialEvent, { type: 'worker' }> => e.type === 'worker' && e.state !== 'spawned');
      expect(workers.map((w) => [w.worker, w.state, w.exitCode]).sort()).toEqual([
        [0, 'exited', 0],
        [1, 'exited', 0],
      ]);
    }, TRIAL_RUN_TIMEOUT);
  }

  it('spawns workers exactly as docs/trial-protocol.md §1.1 and stops them by closing fd 3', async () => {
    const record = join(freshDirectory('ampstate-trial-record-'), 'record.json');
    const modules = testPackage(
      'spawnprobe',
      'test_spawn.py',
      [
        ...FD_KINDS,
        'import json',
        'from twisted.trial import unittest',
        'class SpawnTests(unittest.TestCase):',
        '    def test_record(self):',
        '        argv = open("/proc/self/cmdline", "rb").read().split(b"\\0")[:-1]',
        '        fds = fd_kinds(range(6))',
        `        info = {"argv": [a.decode() for a in argv], "pythonpath": os.environ.get("PYTHONPATH"), "cwd": os.getcwd(), "fds": fds}`,
        `        with open(${JSON.stringify(record)}, "w") as f:`,
        '            json.dump(info, f)',
        '',
      ].join('\n'),
    );
    const mine = await ours(['spawnprobe'], { spawn: 'lazy', workerArguments: ['--force-gc'] }, [modules]);
    expect(mine.summary.line).toBe('PASSED (successes=1)');
    const info = JSON.parse(readFileSync(record, 'utf8')) as { argv: string[]; pythonpath: string; cwd: string; fds: Record<string, string | null> };
    const workertrial = execFileSync(PYTHON, ['-c', 'import twisted.trial._dist.workertrial as m; print(m.__file__)'], { encoding: 'utf8', env: pythonEnv([], twisted) }).trim();
    expect(info.argv).toEqual([PYTHON, workertrial, '--force-gc']);
    const path = info.pythonpath.split(':');
    expect(path[0]).toBe(mine.cwd); // sys.path[0] of `python -m twisted.trial` is the cwd
    expect(path.slice(1, 3 + twisted.sitePath.length)).toEqual([...twisted.sitePath, modules, FIXTURES]);
    expect(path).toContain('/usr/lib/python3/dist-packages');
    expect(info.cwd).toBe(join(mine.cwd, '_trial_temp', '0')); // after Start
    // fds 0–4 are connected (Node's stdio "pipes" are socket pairs); nothing else leaked.
    expect([0, 1, 2, 3, 4].map((fd) => info.fds[fd])).toEqual(['socket', 'socket', 'socket', 'socket', 'socket']);
    // min(tests, -j) = 1 worker; 22.4 layout: marker + per-worker dir with the three logs.
    expect(readdirSync(join(mine.cwd, '_trial_temp')).sort()).toEqual(['0', '_trial_marker']);
    expect(readdirSync(join(mine.cwd, '_trial_temp', '0')).sort()).toEqual(['err.log', 'out.log', 'test.log']);
    expect(mine.events.filter((e) => e.type === 'worker').map((e) => (e as { state: string }).state)).toEqual(['spawned', 'exited']);
  });

  it('eagerly, the lister is worker 0: one process imports the tests and runs them, with the path, environment and fds of §1.1', async () => {
    const record = join(freshDirectory('ampstate-trial-record-'), 'record.jsonl');
    const modules = testPackage(
      'listprobe',
      'test_list.py',
      [
        ...FD_KINDS,
        'import json, sys',
        'from twisted.trial import unittest',
        `def note(what):`,
        `    fds = fd_kinds((3, 4, 5))`,
        `    with open(${JSON.stringify(record)}, "a") as f:`,
        `        f.write(json.dumps({"what": what, "pid": os.getpid(), "path0": sys.path[0], "pythonpath": os.environ.get("PYTHONPATH"), "cwd": os.getcwd(), "fds": fds}) + "\\n")`,
        'note("import")',
        'class ListTests(unittest.TestCase):',
        '    def test_note(self):',
        '        note("test")',
        '',
      ].join('\n'),
    );
    const mine = await ours(['listprobe'], { jobs: 1 }, [modules]);
    expect(mine.summary.line).toBe('PASSED (successes=1)');
    const notes = readFileSync(record, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { what: string; pid: number; path0: string; pythonpath: string; cwd: string; fds: Record<string, string | null> });
    // Twisted's own manager imports the module in itself and again in the worker: here, once.
    expect(notes.map((note) => note.what)).toEqual(['import', 'test']);
    expect(notes[1]!.pid).toBe(notes[0]!.pid);
    const test = notes[1]!;
    const workertrial = execFileSync(PYTHON, ['-c', 'import twisted.trial._dist.workertrial as m; print(m.__file__)'], { encoding: 'utf8', env: pythonEnv([], twisted) }).trim();
    expect(test.path0).toBe(join(workertrial, '..'));
    expect(test.pythonpath.split(':')[0]).toBe(mine.cwd);
    expect(test.cwd).toBe(join(mine.cwd, '_trial_temp', '0'));
    // AMP on fds 3 and 4; fd 5, the listing's socket, was closed before the worker started.
    expect([test.fds[3], test.fds[4]]).toEqual(['socket', 'socket']);
    expect(test.fds[5]).not.toBe('socket');
    expect(readdirSync(join(mine.cwd, '_trial_temp', '0')).sort()).toEqual(['err.log', 'out.log', 'test.log']);
  });

  it('--reactor reaches worker 0 before any test module imports the reactor (options that must come first: no listing worker)', async () => {
    const modules = testPackage('reactorprobe', 'test_reactor.py', ['from twisted.internet import reactor', 'from twisted.trial import unittest', 'class ReactorTests(unittest.TestCase):', '    def test_it(self):', '        self.assertIn("asyncio", type(reactor).__module__)', ''].join('\n'));
    const mine = await ours(['reactorprobe'], { jobs: 1, workerArguments: ['--reactor', 'asyncio'] }, [modules]);
    expect(mine.summary.line).toBe('PASSED (successes=1)');
  });

  it('an error while worker 0 is still listing is not held back until the listing ends', async () => {
    const modules = testPackage('slowprobe', 'test_slow.py', ['import time', 'time.sleep(60)', ''].join('\n'));
    const manager = new TrialManager({
      names: ['slowprobe'],
      jobs: 1,
      python: PYTHON,
      cwd: freshDirectory(),
      env: pythonEnv([modules], twisted),
      output: () => undefined,
      farm: {
        client: FAKE_CLIENT,
        workers: ['fake1'],
        jobs: 1,
        createHost: () => {
          throw new Error('no farm host today');
        },
      },
    });
    manager.events$.subscribe({ error: () => undefined });
    const began = Date.now();
    await expect(manager.run()).rejects.toThrow('no farm host today');
    // The listing sleeps for a minute at import; the worker listing it is killed instead.
    expect(Date.now() - began).toBeLessThan(20_000);
  }, TRIAL_RUN_TIMEOUT);

  for (const spawn of ['eager', 'lazy'] as const) {
    it(`a listing that fails is the run's error, naming why (${spawn})`, async () => {
      // Trial's loader turns exceptions into errors of the run; an exit at import ends the listing.
      const modules = testPackage('exitprobe', 'test_exit.py', 'import os, sys\nsys.stderr.write("the listing breaks here\\n")\nsys.stderr.flush()\nos._exit(3)\n');
      const manager = new TrialManager({ names: ['exitprobe'], jobs: 2, spawn, python: PYTHON, cwd: freshDirectory(), env: pythonEnv([modules], twisted), output: () => undefined });
      manager.events$.subscribe({ error: () => undefined });
      await expect(manager.run()).rejects.toMatchObject({ code: 'TRIAL_ERR_LISTING', message: expect.stringMatching(/^listing trial tests with .* failed: .*the listing breaks here/) });
      expect(manager.pool.getSnapshot().status).toBe('done');
    }, TRIAL_RUN_TIMEOUT);
  }

  it('eager spawning (the default) stops surplus workers before Start and leaves Twisted\'s layout', async () => {
    const mine = await ours([`${SAMPLE}.OutcomeTests.test_pass_one`], { jobs: 3 });
    expect(mine.summary.line).toBe('PASSED (successes=1)');
    expect(readdirSync(join(mine.cwd, '_trial_temp')).sort()).toEqual(['0', '_trial_marker']);
    const ends = mine.events.filter((e): e is Extract<TrialEvent, { type: 'worker' }> => e.type === 'worker' && e.state !== 'spawned');
    expect(ends.map((e) => [e.state, e.exitCode])).toEqual([['exited', 0], ['exited', 0], ['exited', 0]]);
    expect(mine.events.find((e) => e.type === 'started')).toMatchObject({ tests: 1, workers: 1 });
  });

  it('a worker that dies mid-Run gives that test an error; the others still run, and never silence', async () => {
    const modules = testPackage(
      'crashprobe',
      'test_crash.py',
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
    process.env.PYTHONPATH = pythonEnv([], twisted).PYTHONPATH;
    try {
      const passing = await run(['-j', '2', '--python', PYTHON, `${SAMPLE}.OutcomeTests.test_pass_one`, `${SAMPLE}.OutcomeTests.test_skip`]);
      expect(passing.code).toBe(0);
      expect(passing.out).toMatch(/^Running 2 tests\.\n/);
      expect(passing.out.endsWith('PASSED (skips=1, successes=1)\n')).toBe(true);
      const failing = await run(['-j', '1', '--python', PYTHON, '--dialect', twisted.dialect, `${SAMPLE}.OutcomeTests.test_fail_explicit`]);
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
