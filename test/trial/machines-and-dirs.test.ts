import { existsSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { NoTrialMarkerError, WorkingDirectoryBusyError } from '../../actors/trial/errors.js';
import { claimTrialTemp } from '../../actors/trial/temp-dir.js';
import { trialRunMachine } from '../../machines/trial-run.js';
import { trialWorkerPoolMachine } from '../../machines/trial-worker-pool.js';
import { freshDirectory } from './helpers.js';

describe('trial worker pool machine', () => {
  it('spawning → ready → running → stopping → stopped', () => {
    const pool = createActor(trialWorkerPoolMachine, { input: { size: 2 } }).start();
    pool.send({ type: 'workerSpawned', worker: 0 });
    expect(pool.getSnapshot().value).toBe('spawning');
    pool.send({ type: 'workerSpawned', worker: 1 });
    expect(pool.getSnapshot().value).toBe('ready');
    pool.send({ type: 'testsListed', count: 10 });
    expect(pool.getSnapshot().value).toBe('running');
    pool.send({ type: 'drained' });
    expect(pool.getSnapshot().value).toBe('stopping');
    pool.send({ type: 'workerExited', worker: 0, clean: true });
    expect(pool.getSnapshot().value).toBe('stopping');
    pool.send({ type: 'workerExited', worker: 1, clean: true });
    expect(pool.getSnapshot().value).toBe('stopped');
    expect(pool.getSnapshot().status).toBe('done');
  });

  it('fewer tests than workers shrink the pool; zero tests go straight to stopping', () => {
    const pool = createActor(trialWorkerPoolMachine, { input: { size: 4 } }).start();
    pool.send({ type: 'testsListed', count: 1 });
    expect(pool.getSnapshot().context.size).toBe(1);
    pool.send({ type: 'workerSpawned', worker: 0 });
    expect(pool.getSnapshot().value).toBe('running');
    const empty = createActor(trialWorkerPoolMachine, { input: { size: 2 } }).start();
    empty.send({ type: 'testsListed', count: 0 });
    expect(empty.getSnapshot().value).toBe('stopped');
  });

  it('is crashed when the last live worker dies while running', () => {
    const pool = createActor(trialWorkerPoolMachine, { input: { size: 2 } }).start();
    pool.send({ type: 'testsListed', count: 5 });
    pool.send({ type: 'workerSpawned', worker: 0 });
    pool.send({ type: 'workerSpawned', worker: 1 });
    pool.send({ type: 'workerExited', worker: 0, clean: false });
    expect(pool.getSnapshot().value).toBe('running');
    pool.send({ type: 'workerExited', worker: 1, clean: false });
    expect(pool.getSnapshot().value).toBe('crashed');
    expect(pool.getSnapshot().context.crashed).toBe(2);
  });
});

describe('trial run machine', () => {
  it('idle → starting → running → reporting → between …, counting silent Runs', () => {
    const run = createActor(trialRunMachine).start();
    run.send({ type: 'start', directory: '/tmp/_trial_temp/0' });
    expect(run.getSnapshot().value).toBe('starting');
    run.send({ type: 'run', test: 'a.T.test_one' });
    expect(run.getSnapshot().value).toBe('running');
    expect(run.getSnapshot().context.test).toBe('a.T.test_one');
    run.send({ type: 'answered' });
    expect(run.getSnapshot().value).toBe('reporting');
    run.send({ type: 'reported', outcomes: 0 });
    expect(run.getSnapshot().value).toBe('between');
    expect(run.getSnapshot().context).toMatchObject({ runs: 1, silentRuns: 1, test: undefined });
    run.send({ type: 'stop' });
    run.send({ type: 'ended', clean: true });
    expect(run.getSnapshot().value).toBe('stopped');
  });

  it('a process end during a Run is a crash', () => {
    const run = createActor(trialRunMachine).start();
    run.send({ type: 'start', directory: '/d' });
    run.send({ type: 'run', test: 't' });
    run.send({ type: 'ended', clean: false, reason: 'killed by SIGKILL' });
    expect(run.getSnapshot().value).toBe('crashed');
    expect(run.getSnapshot().context.endReason).toBe('killed by SIGKILL');
  });
});

describe('_trial_temp', () => {
  it('makes the directory with its marker, and uses _trial_temp-1 while the lock is held', () => {
    const cwd = freshDirectory();
    const first = claimTrialTemp('_trial_temp', cwd);
    expect(first.path).toBe(join(cwd, '_trial_temp'));
    expect(readdirSync(first.path)).toEqual(['_trial_marker']);
    expect(readlinkSync(`${first.path}.lock`)).toBe(String(process.pid));
    const second = claimTrialTemp('_trial_temp', cwd);
    expect(second.path).toBe(join(cwd, '_trial_temp-1'));
    second.release();
    first.release();
    expect(existsSync(`${first.path}.lock`)).toBe(false);
  });

  it('wipes a previous run, takes over a stale lock, refuses a directory without marker', () => {
    const cwd = freshDirectory();
    const first = claimTrialTemp('_trial_temp', cwd);
    writeFileSync(join(first.path, 'leftover'), 'x');
    first.release();
    symlinkSync('999999999', join(cwd, '_trial_temp.lock'));
    const again = claimTrialTemp('_trial_temp', cwd);
    expect(again.path).toBe(join(cwd, '_trial_temp'));
    expect(readdirSync(again.path)).toEqual(['_trial_marker']);
    again.release();
    mkdirSync(join(cwd, 'mine'));
    expect(() => claimTrialTemp('mine', cwd)).toThrow(NoTrialMarkerError);
    const custom = claimTrialTemp('custom', cwd);
    expect(() => claimTrialTemp('custom', cwd)).toThrow(WorkingDirectoryBusyError);
    custom.release();
  });
});
