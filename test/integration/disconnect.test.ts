/**
 * Losing the connection with a real `ampstate worker` process:
 * - mid-command (the master drops it with `loseConnection()`, or the master stops): the command
 *   ends at once as RETRY and the worker kills the whole process group, so neither the shell nor
 *   its background child survives;
 * - mid-transfer: no partial destination and no temp file is left on the master;
 * - the master restarts on the same port: the worker reconnects by itself and runs commands again.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerDisconnectedError } from '../../actors/master/errors.js';
import { RemoteCommand } from '../../actors/master/remote-command.js';
import { RETRY } from '../../actors/master/results.js';
import { uploadDirectory, uploadFile, type Transfer } from '../../actors/master/transfers.js';
import {
  BUILDER,
  WorkerProcess,
  listTree,
  orphanScript,
  processGone,
  readPid,
  removeDir,
  runCommand,
  startFarm,
  startMaster,
  tempRoot,
  waitAttached,
  waitGone,
  type Farm,
  type Master,
} from './harness.js';

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function farm(): Promise<Farm> {
  const started = await startFarm();
  cleanups.push(() => started.stop());
  return started;
}

/** Starts the orphan script; resolves once both pids are known and alive. */
async function startOrphanScript(target: Farm): Promise<{ result: ReturnType<RemoteCommand['run']>; pids: number[] }> {
  const command = new RemoteCommand('shell', { command: orphanScript(target.buildDir), workdir: 'build', logEnviron: false });
  const result = command.run(target.connection, BUILDER);
  const pids = [await readPid(join(target.buildDir, 'shell.pid')), await readPid(join(target.buildDir, 'child.pid'))];
  // Should the test fail, its processes must not outlive it.
  cleanups.push(async () => {
    for (const pid of pids) if (!processGone(pid)) process.kill(pid, 'SIGKILL');
  });
  for (const pid of pids) expect(processGone(pid), `pid ${pid} runs before the disconnect`).toBe(false);
  return { result, pids };
}

describe('a disconnect mid-command leaves no orphaned process', () => {
  it('when the master drops the connection (loseConnection)', async () => {
    const target = await farm();
    const { result, pids } = await startOrphanScript(target);
    target.connection.loseConnection();
    const outcome = await result;
    expect(outcome.results).toBe(RETRY);
    expect(outcome.failure).toBeInstanceOf(WorkerDisconnectedError);
    await waitGone(pids, 10_000);
    await target.worker.waitForLog((line) => line.msg.startsWith('killing command shell'));
    expect(target.worker.running).toBe(true);
  });

  it('when the master stops', async () => {
    const target = await farm();
    const { result, pids } = await startOrphanScript(target);
    await target.master.listener.stop();
    const outcome = await result;
    expect(outcome.results).toBe(RETRY);
    await waitGone(pids, 10_000);
    await target.worker.waitForLog((line) => line.msg === 'lost connection to master');
  });
});

describe('a disconnect mid-transfer leaves nothing on the master', () => {
  const SIZE = 40 * 1024 * 1024;

  /** Drops the link at the first block; returns what the master directory held at that moment. */
  async function dropDuring(target: Farm, transfer: Transfer, drop: () => void, size = SIZE): Promise<{ during: string[] }> {
    let during: string[] = [];
    let dropped = false;
    transfer.progress$.subscribe(() => {
      if (dropped) return;
      dropped = true;
      during = listTree(target.masterBase);
      drop();
    });
    const result = await transfer.result;
    expect(dropped).toBe(true);
    expect(result.results).toBe(RETRY);
    expect(result.failure).toBeInstanceOf(WorkerDisconnectedError);
    expect(result.bytes).toBeLessThan(size);
    return { during };
  }

  it('uploadFile, connection dropped by the master', async () => {
    const target = await farm();
    writeFileSync(join(target.buildDir, 'big.bin'), randomBytes(SIZE));
    const transfer = uploadFile(target.connection, { builderName: BUILDER, workersrc: 'big.bin', masterdest: 'big.bin', masterBasedir: target.masterBase });
    const { during } = await dropDuring(target, transfer, () => target.connection.loseConnection());
    // The temp file was there while blocks arrived; it is gone now, and no destination appeared.
    expect(during.some((entry) => entry.startsWith('buildbot-transfer-'))).toBe(true);
    expect(listTree(target.masterBase)).toEqual([]);
  });

  it('uploadFile, master stopped', async () => {
    const target = await farm();
    writeFileSync(join(target.buildDir, 'big.bin'), randomBytes(SIZE));
    const transfer = uploadFile(target.connection, { builderName: BUILDER, workersrc: 'big.bin', masterdest: 'big.bin', masterBasedir: target.masterBase });
    const { during } = await dropDuring(target, transfer, () => void target.master.listener.stop());
    expect(during.some((entry) => entry.startsWith('buildbot-transfer-'))).toBe(true);
    expect(listTree(target.masterBase)).toEqual([]);
  });

  it('uploadDirectory (gz), connection dropped by the master', async () => {
    const target = await farm();
    mkdirSync(join(target.buildDir, 'tree/sub'), { recursive: true });
    // Smaller: the worker gzips the whole tree before the first block goes out.
    writeFileSync(join(target.buildDir, 'tree/sub/big.bin'), randomBytes(SIZE / 4));
    const transfer = uploadDirectory(target.connection, {
      builderName: BUILDER,
      workersrc: 'tree',
      masterdest: 'tree',
      masterBasedir: target.masterBase,
      compress: 'gz',
    });
    const { during } = await dropDuring(target, transfer, () => target.connection.loseConnection(), SIZE / 4);
    expect(during.some((entry) => entry.startsWith('buildbot-transfer-tree-'))).toBe(true);
    expect(listTree(target.masterBase)).toEqual([]);
  });
});

describe('master restart', () => {
  it('the worker reconnects to a new master on the same port and runs commands again', async () => {
    const root = tempRoot();
    const workers = { phoenix: 'pw-phoenix' };
    let second: Master | undefined;
    const first = await startMaster({ workers });
    const worker = WorkerProcess.spawn({ master: first.endpoint, name: 'phoenix', password: workers.phoenix, basedir: join(root, 'worker') });
    cleanups.push(async () => {
      await worker.stop();
      await first.listener.stop();
      await second?.listener.stop();
      removeDir(root);
    });
    const before = await waitAttached(first.listener, 'phoenix');
    expect((await runCommand(before, 'shell', { command: 'echo first', workdir: 'build', logEnviron: false })).text('stdout')).toBe('first\n');

    await first.listener.stop();
    await worker.waitForLog((line) => line.msg === 'lost connection to master');
    second = await startMaster({ workers, port: first.port });
    const after = await waitAttached(second.listener, 'phoenix', 20_000);
    expect(after).not.toBe(before);
    const result = await runCommand(after, 'shell', { command: 'echo second', workdir: 'build', logEnviron: false });
    expect(result.rc).toBe(0);
    expect(result.text('stdout')).toBe('second\n');
    expect(worker.lines.some((line) => line.msg.startsWith('Scheduling retry'))).toBe(true);
    expect(worker.running).toBe(true);
  });
});
