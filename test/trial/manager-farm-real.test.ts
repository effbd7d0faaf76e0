/**
 * `ampstate trial --master` against a real master and worker in this process (test/trial-farm/farm.ts:
 * an AMP listener, its admin API on loopback, a WorkerSession) with the real FarmWorkerHost and
 * Twisted 22.4 trial workers. Daemons, network namespaces and a host killed mid-run are in
 * test/trial-farm/multi-host.test.ts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTrialCommand } from '../../bin/commands/trial.js';
import { Farm } from '../trial-farm/farm.js';
import { PROBE_MODULE, writeProbe } from './farm-probe.js';
import { JS_FIXTURES, PYTHON, TRIAL_RUN_TIMEOUT, collectingStream, ensureWorkerBuilt, freshDirectory, pythonEnv } from './helpers.js';

describe('ampstate trial --master with a real master and farm worker (Twisted 22.4)', () => {
  let farm: Farm;
  let previousPythonPath: string | undefined;

  beforeAll(async () => {
    // The farm worker runs dist's TypeScript trial worker for --node.
    ensureWorkerBuilt();
    farm = await Farm.start(['w1']);
    // The CLI sends the manager's PYTHONPATH to the farm worker.
    previousPythonPath = process.env.PYTHONPATH;
    process.env.PYTHONPATH = pythonEnv().PYTHONPATH;
  }, 180_000);

  afterAll(async () => {
    if (previousPythonPath === undefined) delete process.env.PYTHONPATH;
    else process.env.PYTHONPATH = previousPythonPath;
    await farm?.stop();
  });

  const cli = async (args: string[], cwd: string) => {
    const stdout = collectingStream();
    const stderr = collectingStream();
    let code: number | undefined;
    const program = new Command('ampstate').exitOverride();
    registerTrialCommand(program, { stdout: stdout.stream, stderr: stderr.stream, setExitCode: (c) => (code = c), cwd, connectMaster: async () => farm.client() });
    await program.parseAsync(['node', 'ampstate', 'trial', '--no-durations', '--no-progress', '--python', PYTHON, '--master', 'in-process', ...args]);
    return { out: stdout.text(), err: stderr.text(), code };
  };

  it('-j 2 on w1 and --local 1: every test passes once, each worker logs in the manager’s _trial_temp', async () => {
    const cwd = freshDirectory();
    writeProbe(cwd, 9);
    const run = await cli(['--workers', 'w1', '-j', '2', '--local', '1', PROBE_MODULE], cwd);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^Running 9 tests\.\n/);
    expect(run.out.endsWith('\nPASSED (successes=9)\n')).toBe(true);
    for (const index of [0, 1, 2]) expect(existsSync(join(cwd, '_trial_temp', String(index), 'test.log')), `worker ${index}`).toBe(true);
  }, TRIAL_RUN_TIMEOUT);

  it('a farm worker that cannot import the names: one line naming it and the module, exit 2, no counts', async () => {
    const cwd = freshDirectory();
    writeProbe(cwd, 3);
    const run = await cli(['--workers', 'w1', '--worker-dir', freshDirectory('ampstate-farm-empty-'), PROBE_MODULE], cwd);
    expect(run.code).toBe(2);
    expect(run.out).toBe('');
    expect(run.err.split('\n')).toHaveLength(2);
    expect(run.err).toMatch(/^ampstate trial: farm worker w1 cannot import farmprobe\.test_farm: /);
  }, TRIAL_RUN_TIMEOUT);

  it('--node: node:test files on TypeScript trial workers on w1, the counts of a local run', async () => {
    const names = [`${join(JS_FIXTURES, 'more.test.mjs')}::math`, `${join(JS_FIXTURES, 'outcomes.test.mjs')}::pass one`];
    const run = await cli(['--node', '--workers', 'w1', '-j', '2', ...names], freshDirectory());
    expect(run.err).toBe('');
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/^Running 6 tests\.\n/);
    expect(run.out.endsWith('FAILED (errors=1, successes=5)\n')).toBe(true);
  }, TRIAL_RUN_TIMEOUT);
});
