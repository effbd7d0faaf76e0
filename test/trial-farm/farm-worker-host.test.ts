import { spawnSync } from 'node:child_process';
/**
 * Trial workers on farm workers (issue #16): a FarmWorkerHost opened through a real master's admin
 * API starts a trial worker on a real ampstate worker, and the manager's AMP (Start, Run, the
 * result commands) crosses the WebSocket, the master and the farm connection to its fds 3 and 4.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FarmWorkerHost, type FarmWorkerRequest } from '../../actors/trial/farm-worker-host.js';
import { FarmImportError, FarmWorkerError } from '../../actors/trial/errors.js';
import { NoTrialSupportError } from '../../actors/master/admin/errors.js';
import type { Connection } from '../../actors/master/connection-api.js';
import { requireTrialSupport } from '../../actors/master/trial-worker-link.js';
import type { MasterConnection } from '../../actors/master/master-connection.js';
import { RemoteCommand } from '../../actors/master/remote-command.js';
import { CommandInput } from '../../codec/protocols/worker-commands.js';
import { CommandRejectedError, UnknownCommandIdError } from '../../codec/protocols/worker-errors.js';
import { isAlive, waitFor } from '../worker/helpers.js';
import { describeEachTwisted, peerEnv } from '../support/twisted-peers.js';
import { temporaryDirectory } from '../support/temp-directory.js';
import { Farm, TrialDriver } from './farm.js';
import { makeStartDirectory, removeUnusedStartDirectory } from '../../actors/worker/commands/trial-worker.js';

const JS_FIXTURES = new URL('../trial/js-fixtures', import.meta.url).pathname;

const TEST_MODULE = `import os, time
from twisted.trial import unittest

class Farmed(unittest.TestCase):
    def test_pass(self):
        pass

    def test_fail(self):
        self.fail("failed on the farm")

    def test_big(self):
        self.fail("x" * 100000)

    def test_block(self):
        open(os.environ["FARM_MARKER"], "w").close()
        time.sleep(60)
`;

let farm: Farm;
let project: string;

beforeAll(async () => {
  project = temporaryDirectory('ampstate-farm-project-');
  mkdirSync(join(project, 'farmpkg'));
  writeFileSync(join(project, 'farmpkg', '__init__.py'), '');
  writeFileSync(join(project, 'farmpkg', 'test_farmed.py'), TEST_MODULE);
  writeFileSync(join(project, 'farmpkg', 'test_broken.py'), 'import no_such_module_on_the_farm\n');
  farm = await Farm.start(['w1', 'w2']);
}, 30_000);

afterAll(async () => {
  await farm?.stop();
});

function pythonRequest(env: NodeJS.ProcessEnv, extra: Partial<FarmWorkerRequest> = {}): FarmWorkerRequest {
  const pythonEnv: Record<string, string> = { FARM_MARKER: join(project, `marker-${Math.random()}`) };
  if (env.PYTHONPATH !== undefined) pythonEnv.PYTHONPATH = env.PYTHONPATH;
  return { kind: 'python', python: '/usr/bin/python3', workdir: project, directory: `_trial_temp/${Math.random()}`, env: pythonEnv, ...extra };
}

// Under CI=true a missing Twisted fails these (describeWithPeer), it never skips them.
describeEachTwisted('a trial worker on a farm worker', (peer) => {
  {
    it('takes Start and Runs over the farm, reports results, and exits at EOF', async () => {
      const host = new FarmWorkerHost(farm.client(), 'w1', pythonRequest(peerEnv(peer), { importCheck: ['farmpkg.test_farmed'] }));
      await host.spawned;
      expect(host.where).toBe('farm worker w1');
      expect(host.pid).toBeGreaterThan(0);
      expect(host.startDirectory).toMatch(/^\/.*_trial_temp\//);
      expect(existsSync(host.startDirectory)).toBe(true);
      const driver = new TrialDriver(host);
      await driver.start();
      const passed = await driver.run('farmpkg.test_farmed.Farmed.test_pass');
      expect(passed.map((result) => result.outcome)).toEqual(['success']);
      const failed = await driver.run('farmpkg.test_farmed.Farmed.test_fail');
      expect(failed.map((result) => result.outcome)).toEqual(['failure']);
      expect(failed[0]).toMatchObject({ message: expect.stringContaining('failed on the farm') });
      if (peer.dialect === '22.10') {
        // Streams carry a 100 KB failure whole: fd 4's bytes cross the farm in 32 KiB updates.
        const big = await driver.run('farmpkg.test_farmed.Farmed.test_big');
        expect(big.map((result) => result.outcome)).toEqual(['failure']);
        expect(big[0]).toMatchObject({ message: expect.stringContaining('x'.repeat(100_000)) });
      }
      host.amp.end();
      expect(await host.exited).toEqual({ code: 0, signal: null });
      expect(host.failure).toBeUndefined();
    }, 60_000);
  }
});

describe('a TypeScript trial worker on a farm worker', () => {
  it('runs node:test files it was sent, in the dialect it was told', async () => {
    if (!existsSync(new URL('../../dist/actors/trial/worker-main.js', import.meta.url))) throw new Error('dist/ is not built: run npx tsc -p tsconfig.json first');
    const host = new FarmWorkerHost(farm.client(), 'w2', { kind: 'node', workdir: project, directory: '_trial_temp/node', dialect: '22.4' });
    await host.spawned;
    const driver = new TrialDriver(host);
    await driver.start();
    const results = await driver.run(`${join(JS_FIXTURES, 'more.test.mjs')}::math::adds`);
    expect(results.map((result) => result.outcome)).toEqual(['success']);
    const errors = await driver.run(`${join(JS_FIXTURES, 'more.test.mjs')}::math::throws RangeError`);
    expect(errors.map((result) => result.outcome)).toEqual(['error']);
    expect(errors[0]).toMatchObject({ message: expect.stringContaining('Invalid array length') });
    expect(driver.collector.dialect).toBe('22.4');
    host.amp.end();
    expect(await host.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe("a farm worker's start directory, once the worker has ended", () => {
  // A surplus worker: the pool stops it (EOF on fd 3) before it gets Start.
  it('is removed for a worker stopped before Start (a surplus one); the temp directory and its marker stay', async () => {
    if (!existsSync(new URL('../../dist/actors/trial/worker-main.js', import.meta.url))) throw new Error('dist/ is not built: run npx tsc -p tsconfig.json first');
    const temp = `_trial_temp_surplus_${process.pid}_${Date.now()}`;
    const host = new FarmWorkerHost(farm.client(), 'w2', { kind: 'node', workdir: project, directory: `${temp}/0` });
    await host.spawned;
    expect(existsSync(host.startDirectory)).toBe(true);
    host.amp.end();
    expect(await host.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(host.startDirectory)).toBe(false);
    expect(readdirSync(join(project, temp))).toEqual(['_trial_marker']);
  }, 60_000);

  it('is kept when the worker got Start, left something in it, or found it there', async () => {
    if (!existsSync(new URL('../../dist/actors/trial/worker-main.js', import.meta.url))) throw new Error('dist/ is not built: run npx tsc -p tsconfig.json first');
    const temp = `_trial_temp_kept_${process.pid}_${Date.now()}`;
    const used = new FarmWorkerHost(farm.client(), 'w2', { kind: 'node', workdir: project, directory: `${temp}/0` });
    await used.spawned;
    writeFileSync(join(used.startDirectory, 'artefact'), 'a test wrote this');
    used.amp.end();
    await used.exited;
    expect(readFileSync(join(used.startDirectory, 'artefact'), 'utf8')).toBe('a test wrote this');

    // A worker that got Start and left nothing: trial keeps a directory per worker that ran.
    const started = new FarmWorkerHost(farm.client(), 'w2', { kind: 'node', workdir: project, directory: `${temp}/2` });
    await started.spawned;
    await new TrialDriver(started).start();
    started.amp.end();
    await started.exited;
    expect(readdirSync(started.startDirectory)).toEqual([]);

    mkdirSync(join(project, temp, '1'));
    const existing = new FarmWorkerHost(farm.client(), 'w2', { kind: 'node', workdir: project, directory: `${temp}/1` });
    await existing.spawned;
    existing.amp.end();
    await existing.exited;
    expect(existsSync(join(project, temp, '1'))).toBe(true);
  }, 60_000);
});

describe('which workers can run trial workers', () => {
  it('refuses a stock Buildbot worker and an ampstate worker without trial_worker, naming it', () => {
    const stock = { name: 'bb1', info: { worker_commands: { shell: '3.1' } } } as unknown as Connection;
    expect(() => requireTrialSupport(stock)).toThrow(NoTrialSupportError);
    expect(() => requireTrialSupport(stock)).toThrow(/^farm worker bb1 cannot run trial workers: .*stock Buildbot worker/);
    const old = farm.farm.connection('w1')!;
    const info = old.info!;
    const withoutTrial = Object.create(old, { info: { value: { ...info, worker_commands: { shell: '3.3' } } } }) as Connection;
    expect(() => requireTrialSupport(withoutTrial)).toThrow(/^farm worker w1 cannot run trial workers: its worker_commands have no trial_worker/);
    expect(requireTrialSupport(old)).toBe(old);
  });
});

describe('CommandInput', () => {
  it('is refused for an unknown command id and for a command that takes no input', async () => {
    const connection = farm.farm.connection('w1') as MasterConnection;
    await expect(connection.amp.callRemote(CommandInput, { commandId: 'no-such-id', data: Buffer.from('x') })).rejects.toBeInstanceOf(UnknownCommandIdError);
    const shell = new RemoteCommand('shell', { command: ['sleep', '30'], workdir: 'build', logEnviron: false });
    const result = shell.run(connection, 'admin');
    expect(await shell.started).toBe(true);
    await expect(connection.amp.callRemote(CommandInput, { commandId: shell.commandId!, data: Buffer.from('x') })).rejects.toThrow(
      new CommandRejectedError(`command shell [id ${shell.commandId}] takes no input`),
    );
    await shell.interrupt('done');
    expect((await result).interrupted).toBe(true);
  }, 30_000);
});

describe('refusals and failures', () => {
  it('names the farm worker and the module its Python cannot import', async () => {
    const host = new FarmWorkerHost(farm.client(), 'w1', pythonRequest(process.env, { importCheck: ['farmpkg.test_farmed', 'farmpkg.test_broken'] }));
    const error = await host.spawned.then(() => undefined, (failure: unknown) => failure);
    expect(error).toBeInstanceOf(FarmImportError);
    expect((error as FarmImportError).code).toBe('TRIAL_ERR_FARM_IMPORT');
    expect((error as Error).message).toBe("farm worker w1 cannot import farmpkg.test_broken: ModuleNotFoundError: No module named 'no_such_module_on_the_farm'");
    expect((error as FarmImportError).failures.map((failure) => failure.name)).toEqual(['farmpkg.test_broken']);
    expect(await host.exited).toEqual({ code: null, signal: null });
  }, 30_000);

  it('is refused without the right token, and for a worker that is not attached', async () => {
    for (const [client, worker, code] of [
      [farm.client('wrong-token'), 'w1', 'ADMIN_ERR_UNAUTHORIZED'],
      [farm.client(), 'w9', 'ADMIN_ERR_UNKNOWN_WORKER'],
    ] as const) {
      const host = new FarmWorkerHost(client, worker, pythonRequest(process.env));
      const error = await host.spawned.then(() => undefined, (failure: unknown) => failure);
      expect(error, code).toBeInstanceOf(FarmWorkerError);
      expect((error as FarmWorkerError).serverCode).toBe(code);
      await host.exited;
    }
  }, 30_000);

  it('kill() closes the socket and the farm worker kills the process', async () => {
    const request = pythonRequest(process.env);
    const host = new FarmWorkerHost(farm.client(), 'w1', request);
    await host.spawned;
    const driver = new TrialDriver(host);
    await driver.start();
    void driver.run('farmpkg.test_farmed.Farmed.test_block').catch(() => undefined);
    await waitFor(() => existsSync(request.env!['FARM_MARKER']!), 20_000, 'the blocking test to start');
    host.kill();
    expect(await host.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await waitFor(() => !isAlive(host.pid!), 10_000, 'the trial worker process to die');
  }, 60_000);

  it('ends with a failure naming the farm worker when it disconnects mid-run', async () => {
    const request = pythonRequest(process.env);
    const host = new FarmWorkerHost(farm.client(), 'w2', request);
    await host.spawned;
    const driver = new TrialDriver(host);
    await driver.start();
    const run = driver.run('farmpkg.test_farmed.Farmed.test_block').then(
      () => 'answered',
      (error: Error) => error.message,
    );
    await waitFor(() => existsSync(request.env!['FARM_MARKER']!), 20_000, 'the blocking test to start');
    farm.sessions.get('w2')!.connection!.abort();
    expect(await host.exited).toEqual({ code: null, signal: null });
    expect(host.failure).toMatch(/^farm worker w2 disconnected: /);
    expect(await run).not.toBe('answered');
    // The worker kills the commands of a lost connection, process group and all.
    await waitFor(() => !isAlive(host.pid!), 10_000, 'the trial worker process to die');
  }, 60_000);
});

describe('the admin server closing', () => {
  it('ends its open trial worker sockets, and the farm worker kills their processes', async () => {
    const own = await Farm.start(['w3']);
    try {
      const host = new FarmWorkerHost(own.client(), 'w3', pythonRequest(process.env));
      await host.spawned;
      await own.admin.close();
      expect(await host.exited).toMatchObject({ code: null });
      await waitFor(() => !isAlive(host.pid!), 10_000, 'the trial worker process to die');
    } finally {
      await own.stop();
    }
  }, 60_000);
});

describe("a farm worker's start directory", () => {
  it("gets trial's _trial_marker in a temp directory it makes, and leaves an existing one as it is", async () => {
    const workdir = temporaryDirectory('ampstate-farm-marker-');
    expect(await makeStartDirectory(join(workdir, '_trial_temp', '1'))).toBe(true);
    expect(existsSync(join(workdir, '_trial_temp', '1'))).toBe(true);
    expect(await makeStartDirectory(join(workdir, '_trial_temp', '1'))).toBe(false);
    expect(readFileSync(join(workdir, '_trial_temp', '_trial_marker'), 'utf8')).toBe('');
    // The second worker's directory: the temp is there already.
    rmSync(join(workdir, '_trial_temp', '_trial_marker'));
    await makeStartDirectory(join(workdir, '_trial_temp', '2'));
    expect(existsSync(join(workdir, '_trial_temp', '_trial_marker'))).toBe(false);
    // The workdir made too.
    await makeStartDirectory(join(workdir, 'fresh', 'sub', '_trial_temp', '0'));
    expect(existsSync(join(workdir, 'fresh', 'sub', '_trial_temp', '_trial_marker'))).toBe(true);
    expect(existsSync(join(workdir, 'fresh', '_trial_marker'))).toBe(false);
  });

  it('is removed once the worker has ended only when nothing is in it', async () => {
    const workdir = temporaryDirectory('ampstate-farm-unused-');
    mkdirSync(join(workdir, 'empty'));
    mkdirSync(join(workdir, 'used'));
    writeFileSync(join(workdir, 'used', 'artefact'), 'kept');
    expect(await removeUnusedStartDirectory(join(workdir, 'empty'))).toBe(true);
    expect(existsSync(join(workdir, 'empty'))).toBe(false);
    expect(await removeUnusedStartDirectory(join(workdir, 'used'))).toBe(false);
    expect(readFileSync(join(workdir, 'used', 'artefact'), 'utf8')).toBe('kept');
    expect(await removeUnusedStartDirectory(join(workdir, 'missing'))).toBe(false);
  });
});

describeEachTwisted(
  "a farm worker's temp directory, then a plain trial run in its workdir",
  (peer) => {
    it('trial wipes it and runs (it refuses a _trial_temp without a marker)', async () => {
      const workdir = temporaryDirectory('ampstate-farm-marker-trial-');
      writeFileSync(join(workdir, 'test_after_farm.py'), 'from twisted.trial import unittest\nclass After(unittest.TestCase):\n    def test_it(self):\n        pass\n');
      await makeStartDirectory(join(workdir, '_trial_temp', '0'));
      const run = spawnSync(peer.python, ['-m', 'twisted.trial', 'test_after_farm'], { cwd: workdir, env: peerEnv(peer), encoding: 'utf8' });
      expect(run.stdout + run.stderr).toContain('PASSED (successes=1)');
      expect(run.status).toBe(0);
      expect(existsSync(join(workdir, '_trial_temp', '0'))).toBe(false);
    }, 30_000);
  },
);
