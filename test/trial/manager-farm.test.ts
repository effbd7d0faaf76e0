/**
 * The manager with trial workers on farm workers, through fake hosts (fake-farm-host.ts: a local
 * workertrial process that calls itself `farm worker NAME`): placement, the request a farm worker
 * gets, a farm host lost mid-run, a failed import check, and the CLI's farm options. Real Twisted
 * 22.4 workers; the real master + worker are in farm-trial.test.ts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { TrialManager, type TrialManagerOptions } from '../../actors/trial/manager.js';
import type { TrialEvent } from '../../actors/trial/results.js';
import { farmStartDirectory, placeWorkers } from '../../actors/trial/worker-placement.js';
import { registerTrialCommand } from '../../bin/commands/trial.js';
import { FAKE_CLIENT, FakeImportCheckError, fakeFarm } from './fake-farm-host.js';
import { PROBE_MODULE as MODULE, writeProbe } from './farm-probe.js';
import { PYTHON, TRIAL_RUN_TIMEOUT, collectingStream, freshDirectory, pythonEnv, twistedTrial } from './helpers.js';

async function run(cwd: string, options: Partial<TrialManagerOptions>) {
  let output = '';
  const manager = new TrialManager({ names: [MODULE], jobs: 1, python: PYTHON, cwd, env: pythonEnv(), output: (s) => (output += s), durations: false, ...options });
  const events = lastValueFrom(manager.events$.pipe(toArray()));
  const summary = await manager.run();
  return { summary, output, events: await events };
}

describe('placing trial workers', () => {
  it('round robin over local and farm workers, so a small run still spreads over every host', () => {
    const names = (placements: ReturnType<typeof placeWorkers>) => placements.map((p) => (p.kind === 'local' ? 'local' : p.worker));
    expect(names(placeWorkers(1, ['w1', 'w2'], 2))).toEqual(['local', 'w1', 'w2', 'w1', 'w2']);
    expect(names(placeWorkers(0, ['w1'], 3))).toEqual(['w1', 'w1', 'w1']);
    expect(names(placeWorkers(2, [], 0))).toEqual(['local', 'local']);
  });

  it("Start's directory on a farm worker is the run's temp directory relative to the manager's cwd", () => {
    expect(farmStartDirectory('/src/app', '/src/app/_trial_temp-1', 3)).toBe('_trial_temp-1/3');
    expect(farmStartDirectory('/src/app', '/tmp/elsewhere/tt', 0)).toBe('tt/0');
  });

  it('a run with farm workers takes -j 0 locally; without them it needs at least one worker', () => {
    expect(() => new TrialManager({ names: ['x'], jobs: 0 })).toThrow(RangeError);
    expect(() => new TrialManager({ names: ['x'], jobs: 0, farm: { client: FAKE_CLIENT, workers: [], jobs: 1 } })).toThrow(/at least one farm worker/);
    expect(new TrialManager({ names: ['x'], jobs: 0, farm: { client: FAKE_CLIENT, workers: ['w1'], jobs: 2 } }).pool.getSnapshot().context.size).toBe(2);
  });
});

describe('trial manager with fake farm hosts (Twisted 22.4 workers)', () => {
  it('local and farm workers share the queue: the counts of a serial run, one log directory per worker', async () => {
    const cwd = freshDirectory();
    writeProbe(cwd, 12);
    const farm = fakeFarm();
    const [mine, serial] = await Promise.all([
      run(cwd, { farm: { client: FAKE_CLIENT, workers: ['fake1', 'fake2'], jobs: 1, createHost: farm.createHost } }),
      twistedTrial(0, [MODULE], cwd),
    ]);
    expect(serial.summary).toBe('PASSED (successes=12)');
    expect(mine.summary.line).toBe(serial.summary);
    expect(mine.summary.testsRun).toBe(12);
    // The farm workers were asked for the python kind, in the manager's cwd, with an import check of the names.
    expect(farm.requests.map(({ worker, request }) => [worker, request.kind, request.workdir, request.directory, request.importCheck])).toEqual([
      ['fake1', 'python', cwd, '_trial_temp/1', [MODULE]],
      ['fake2', 'python', cwd, '_trial_temp/2', [MODULE]],
    ]);
    expect(farm.requests[0]!.request.env?.PYTHONPATH).toBe(pythonEnv().PYTHONPATH);
    const ended = mine.events.filter((e): e is Extract<TrialEvent, { type: 'worker' }> => e.type === 'worker' && e.state !== 'spawned');
    expect(ended.map((e) => [e.worker, e.state, e.exitCode]).sort()).toEqual([
      [0, 'exited', 0],
      [1, 'exited', 0],
      [2, 'exited', 0],
    ]);
    for (const index of [0, 1, 2]) for (const log of ['out.log', 'err.log', 'test.log']) expect(existsSync(join(cwd, '_trial_temp', String(index), log))).toBe(true);
  }, TRIAL_RUN_TIMEOUT);

  it('a farm host lost mid-run: its test is an error naming the farm worker, the queue finishes on the local worker', async () => {
    const cwd = freshDirectory();
    writeProbe(cwd, 6);
    const farm = fakeFarm({ env: { AMPSTATE_FAKE_FARM: 'lose' }, loseHostOn: 'LOSE-HOST' });
    const mine = await run(cwd, { farm: { client: FAKE_CLIENT, workers: ['fake1'], jobs: 1, createHost: farm.createHost } });
    expect(farm.lost).toEqual(['fake1']);
    const tests = mine.events.filter((e): e is Extract<TrialEvent, { type: 'test' }> => e.type === 'test');
    expect(tests).toHaveLength(6);
    const errors = tests.flatMap((e) => e.results).filter((r) => r.outcome === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/^worker 1 \(pid \d+\) on farm worker fake1 ended without an exit status \(its host is gone: farm worker fake1 disconnected: connection lost\) while running farmprobe\.test_farm\.FarmTests\.test_0\d/);
    // Every other test ran on the local worker (index 0) and passed.
    expect(tests.filter((e) => e.worker === 0).flatMap((e) => e.results.map((r) => r.outcome))).toEqual(Array(5).fill('success'));
    expect(mine.summary.line).toBe('FAILED (errors=1, successes=5)');
  }, TRIAL_RUN_TIMEOUT);

  it('a farm worker that cannot import the names fails the run before any count is printed', async () => {
    const cwd = freshDirectory();
    writeProbe(cwd, 3);
    const farm = fakeFarm();
    let output = '';
    const manager = new TrialManager({
      names: [MODULE], jobs: 1, python: PYTHON, cwd, env: pythonEnv(), output: (s) => (output += s), durations: false,
      farm: { client: FAKE_CLIENT, workers: ['fake1'], jobs: 1, workdir: freshDirectory('ampstate-farm-empty-'), createHost: farm.createHost },
    });
    await expect(manager.run()).rejects.toThrow(FakeImportCheckError);
    expect(output).toBe('');
  }, TRIAL_RUN_TIMEOUT);
});

describe('ampstate trial --master', () => {
  const cli = async (args: string[], cwd = freshDirectory()) => {
    const stdout = collectingStream();
    const stderr = collectingStream();
    let code: number | undefined;
    const farm = fakeFarm();
    const program = new Command('ampstate').exitOverride();
    registerTrialCommand(program, { stdout: stdout.stream, stderr: stderr.stream, setExitCode: (c) => (code = c), cwd, connectMaster: async () => FAKE_CLIENT, createFarmHost: farm.createHost });
    await program.parseAsync(['node', 'ampstate', 'trial', '--no-durations', '--no-progress', '--python', PYTHON, ...args]);
    return { out: stdout.text(), err: stderr.text(), code, farm };
  };

  it('refuses farm options without --master, and --master without --workers or --all: one line, exit 2', async () => {
    for (const [args, message] of [
      [['--workers', 'w1', 'x'], '--workers needs --master'],
      [['--local', '2', '--worker-dir', 'd', 'x'], '--local, --worker-dir need --master'],
      [['--master', 'm', 'x'], 'with --master, give either --workers w1,w2 or --all'],
      [['--master', 'm', '--all', '--workers', 'w1', 'x'], 'with --master, give either --workers w1,w2 or --all'],
    ] as const) {
      const result = await cli([...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.err).toBe(`ampstate trial: ${message}\n`);
      expect(result.out).toBe('');
    }
  });

  it('-j N on each farm worker (--all), --local M here; an import check failure is one line, exit 2', async () => {
    const previous = process.env.PYTHONPATH;
    process.env.PYTHONPATH = pythonEnv().PYTHONPATH;
    try {
      const cwd = freshDirectory();
      writeProbe(cwd, 8);
      const passing = await cli(['--master', 'm', '--all', '-j', '2', '--local', '1', MODULE], cwd);
      expect(passing.err).toBe('');
      expect(passing.code).toBe(0);
      expect(passing.out.endsWith('PASSED (successes=8)\n')).toBe(true);
      expect(passing.farm.requests.map((r) => r.worker)).toEqual(['fake1', 'fake2', 'fake1', 'fake2']);
      const broken = await cli(['--master', 'm', '--workers', 'fake2', '--worker-dir', freshDirectory('ampstate-farm-empty-'), MODULE], cwd);
      expect(broken.code).toBe(2);
      expect(broken.out).toBe('');
      expect(broken.err).toMatch(/^ampstate trial: farm worker fake2 cannot import farmprobe\.test_farm in \S+\n$/);
    } finally {
      if (previous === undefined) delete process.env.PYTHONPATH;
      else process.env.PYTHONPATH = previous;
    }
  }, TRIAL_RUN_TIMEOUT);
});
