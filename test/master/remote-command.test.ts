import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandRejectedError } from '../../codec/protocols/worker-errors.js';
import { CommandAlreadyRunError, RemoteCommandFailedError, WorkerDisconnectedError } from '../../actors/master/errors.js';
import { RemoteCommand } from '../../actors/master/remote-command.js';
import { CANCELLED, EXCEPTION, FAILURE, RETRY, SUCCESS } from '../../actors/master/results.js';
import type { ConnectedPair } from '../contract/connection-contract.js';
import { ampFactory, inMemoryFactory } from '../contract/harnesses.js';
import { ScriptedWorker } from '../contract/scripted-worker.js';
import { InProcessWorker } from './in-process-worker.js';

const BUILDERS = [['b', 'build-b']] as const;
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function scripted(factory = inMemoryFactory): Promise<ConnectedPair & { script: ScriptedWorker }> {
  const script = new ScriptedWorker();
  const pair = await factory(script, { builders: BUILDERS });
  cleanups.push(() => pair.cleanup());
  return { ...pair, script };
}

/** The id the worker was given for the last start. */
function lastCommandId(script: ScriptedWorker): string {
  return script.callsOf('startCommand').at(-1)!.args[1] as string;
}

function nextTick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5));
}

describe('RemoteCommand', () => {
  it('publishes every update key, accepts output after rc until complete, and collects the result', async () => {
    const { connection, worker, script } = await scripted();
    const command = new RemoteCommand('shell', { command: 'make', workdir: 'build' }, { collectStdout: true, collectStderr: true });
    const seen = command.updates$.pipe(toArray()).toPromise();
    const result = command.run(connection, 'b');
    await nextTick();
    expect(command.state).toBe('running');
    const id = lastCommandId(script);
    expect(script.callsOf('startCommand')[0]!.args[3]).toMatchObject({ workdir: '/srv/worker/build-b/build' });

    await worker.master.update(id, [
      ['header', 'make\n'],
      ['stdout', 'one\n'],
      ['stderr', 'warn\n'],
      ['log', ['config.log', 'checking\n']],
      ['rc', 0],
      ['elapsed', 1.5],
    ]);
    await worker.master.update(id, [
      ['stdout', 'two\n'],
      ['stat', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
      ['files', ['a', 'b']],
      ['failure_reason', 'timeout'],
      ['got_revision', 'abc'],
      ['made_up_key', { x: 1 }],
    ]);
    expect(command.state).toBe('running');
    await worker.master.complete(id, undefined);
    const outcome = await result;

    expect(outcome).toMatchObject({ rc: 0, interrupted: false, failure: undefined, results: SUCCESS, stdout: 'one\ntwo\n', stderr: 'warn\n' });
    expect(outcome.updates).toEqual({
      log: [['config.log', 'checking\n']],
      elapsed: [1.5],
      stat: [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
      files: [['a', 'b']],
      failure_reason: ['timeout'],
      got_revision: ['abc'],
      made_up_key: [{ x: 1 }],
    });
    expect((await seen)!.map((update) => update.key)).toEqual([
      'header',
      'stdout',
      'stderr',
      'log',
      'rc',
      'elapsed',
      'stdout',
      'stat',
      'files',
      'failure_reason',
      'got_revision',
      'made_up_key',
    ]);
    expect(command.state).toBe('completed');
    await expect(command.run(connection, 'b')).rejects.toBeInstanceOf(CommandAlreadyRunError);
  });

  it('maps rc through decodeRC: a nonzero rc is FAILURE, a missing rc too by default', async () => {
    const { connection, worker, script } = await scripted();
    const failing = new RemoteCommand('shell', { command: 'false' });
    const failingResult = failing.run(connection, 'b');
    await nextTick();
    await worker.master.update(lastCommandId(script), [['rc', 1]]);
    await worker.master.complete(lastCommandId(script), undefined);
    expect(await failingResult).toMatchObject({ rc: 1, results: FAILURE });

    const silent = new RemoteCommand('stat', { file: 'x' }, { decodeRC: new Map([[null, SUCCESS]]) });
    const silentResult = silent.run(connection, 'b');
    await nextTick();
    await worker.master.complete(lastCommandId(script), undefined);
    expect(await silentResult).toMatchObject({ rc: undefined, results: SUCCESS });
  });

  it('interrupt: sends the why, waits for complete, and ends CANCELLED whatever the rc', async () => {
    const { connection, worker, script } = await scripted();
    const command = new RemoteCommand('shell', { command: 'sleep 100' });
    await command.interrupt('before run is a no-op');
    expect(command.state).toBe('idle');
    const result = command.run(connection, 'b');
    await nextTick();
    const id = lastCommandId(script);
    await command.interrupt(new Error('user asked'));
    await command.interrupt('twice');
    await nextTick();
    expect(script.callsOf('interruptCommand').map((call) => call.args)).toEqual([['b', id, 'user asked']]);
    expect(command.state).toBe('interrupting');
    await worker.master.update(id, [['stdout', 'flushed\n'], ['rc', 0]]);
    await worker.master.complete(id, undefined);
    expect(await result).toMatchObject({ rc: 0, interrupted: true, results: CANCELLED });
    expect(command.state).toBe('completed');
  });

  it('a worker failure in complete makes the command EXCEPTION', async () => {
    const { connection, worker, script } = await scripted();
    const command = new RemoteCommand('shell', { command: ['x'] });
    const result = command.run(connection, 'b');
    await nextTick();
    await worker.master.complete(lastCommandId(script), "[Failure instance: Traceback: <class 'ValueError'>: bad env]");
    const outcome = await result;
    expect(outcome.results).toBe(EXCEPTION);
    expect(outcome.failure).toBeInstanceOf(RemoteCommandFailedError);
    expect(outcome.failure?.message).toContain('bad env');
    expect(command.state).toBe('failed');
  });

  it('a refused start fails the command with the worker error', async () => {
    const { connection, script } = await scripted();
    script.handlers.startCommand = async () => {
      throw new CommandRejectedError('WorkerShellCommand is missing args: command');
    };
    const outcome = await new RemoteCommand('shell', {}).run(connection, 'b');
    expect(outcome.failure).toBeInstanceOf(CommandRejectedError);
    expect(outcome.results).toBe(EXCEPTION);
  });

  for (const [transport, factory] of [
    ['in-memory', inMemoryFactory],
    ['AMP', ampFactory],
  ] as const) {
    it(`a disconnect mid-command ends it at once with a disconnect failure (RETRY), over ${transport}`, async () => {
      const { connection, worker, script } = await scripted(factory);
      const command = new RemoteCommand('shell', { command: 'sleep 100' });
      const keys: string[] = [];
      command.updates$.subscribe((update) => keys.push(update.key));
      const result = command.run(connection, 'b');
      await nextTick();
      await worker.master.update(lastCommandId(script), [['stdout', 'started\n']]);
      const before = Date.now();
      worker.disconnect();
      const outcome = await result;
      expect(Date.now() - before).toBeLessThan(500);
      expect(outcome.failure).toBeInstanceOf(WorkerDisconnectedError);
      expect((outcome.failure as WorkerDisconnectedError).code).toBe('WORKER_ERR_DISCONNECTED');
      expect(outcome.results).toBe(RETRY);
      expect(command.state).toBe('disconnected');
      expect(keys).toEqual(['stdout']);
    });
  }

  it('a command on a connection that is already gone ends as disconnected', async () => {
    const { connection } = await scripted();
    connection.loseConnection();
    await nextTick();
    const outcome = await new RemoteCommand('shell', { command: 'true' }).run(connection, 'b');
    expect(outcome.results).toBe(RETRY);
    expect(outcome.failure).toBeInstanceOf(WorkerDisconnectedError);
  });

  it('runs a real shell command on an in-process worker, output after rc included', async () => {
    const basedir = mkdtempSync(join(tmpdir(), 'ampstate-rc-'));
    cleanups.push(() => rmSync(basedir, { recursive: true, force: true }));
    const worker = new InProcessWorker({ basedir });
    const connection = await worker.connect();
    cleanups.push(() => connection.loseConnection());
    const command = new RemoteCommand('shell', { workdir: 'wd', command: 'echo out; echo err >&2; printf partial', logEnviron: false }, {
      collectStdout: true,
      collectStderr: true,
    });
    const outcome = await command.run(connection, 'b');
    expect(outcome).toMatchObject({ rc: 0, results: SUCCESS, stdout: 'out\npartial\n', stderr: 'err\n' });
    expect(outcome.updates.elapsed).toHaveLength(1);
    expect(worker.started[0]!.args.workdir).toBe(join(basedir, 'build-b', 'wd'));
  });
});
