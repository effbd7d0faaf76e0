import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WorkerSession } from '../../actors/worker/session.js';
import { FakeMaster } from './fake-master.js';
import { FakeClock, isAlive, nextNotice, removeDir, startWorker, tempDir, waitFor } from './helpers.js';

let master: FakeMaster;
let basedir: string;
let session: WorkerSession | undefined;
const pids: number[] = [];

beforeEach(async () => {
  master = await FakeMaster.listen();
  basedir = tempDir();
});

afterEach(async () => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
  await session?.stop();
  session = undefined;
  await master.close();
  removeDir(basedir);
});

/** The shell writes its own pid and its background child's pid, then waits on the child. */
const SCRIPT = 'sleep 60 & echo $$ $! > pids.tmp; mv pids.tmp pids; wait';

async function pidsOf(file: string): Promise<[number, number]> {
  await waitFor(() => existsSync(file), 5000, 'the pid file');
  const [shellPid, childPid] = readFileSync(file, 'utf8').trim().split(' ').map(Number) as [number, number];
  pids.push(shellPid, childPid);
  expect(isAlive(shellPid)).toBe(true);
  expect(isAlive(childPid)).toBe(true);
  return [shellPid, childPid];
}

describe('a lost connection', () => {
  it('kills the running command and its whole process group; nothing is sent or replayed', async () => {
    const clock = new FakeClock();
    session = startWorker(master, basedir, { clock, random: () => 0 });
    const side = await master.attached();
    await side.startCommand('1', 'shell', { command: SCRIPT, workdir: basedir, logEnviron: false });
    const [shellPid, childPid] = await pidsOf(join(basedir, 'pids'));

    const finished = nextNotice(session.notices$, 'commandFinished');
    side.connection.abort();
    expect(await finished).toMatchObject({ commandId: '1', killed: true });
    await waitFor(() => !isAlive(shellPid) && !isAlive(childPid), 3000, 'the process group to die');
    expect(session.runningCommands).toEqual([]);
    expect(side.opsFor('1').some((op) => op.op === 'complete')).toBe(false);

    // It reconnects after the backoff and starts afresh: the old command is not resumed.
    await waitFor(() => clock.pending.length === 1, 2000, 'the retry');
    expect(clock.fireNext()).toBe(1500);
    const again = await master.attached(1);
    await waitFor(() => session?.state === 'attached', 2000, 'attached again');
    expect(again.ops).toEqual([]);
  });

  it('kills running commands when the session is stopped (daemon SIGTERM path)', async () => {
    session = startWorker(master, basedir);
    const side = await master.attached();
    await side.startCommand('7', 'shell', { command: SCRIPT, workdir: basedir, logEnviron: false });
    const [shellPid, childPid] = await pidsOf(join(basedir, 'pids'));
    await session.stop();
    await waitFor(() => !isAlive(shellPid) && !isAlive(childPid), 3000, 'the process group to die');
    expect(await session.stopped).toBe('stopped');
    await side.connection.closed;
  });

  it('fails an upload whose connection drops mid-transfer, without Complete', async () => {
    const slow = await FakeMaster.listen({ transferWindow: 2, blockDelayMs: 20 });
    try {
      session = startWorker(slow, basedir, { clock: new FakeClock() });
      const side = await slow.attached();
      const { writeFileSync } = await import('node:fs');
      const path = join(basedir, 'big');
      writeFileSync(path, Buffer.alloc(2 * 1024 * 1024, 1));
      const finished = nextNotice(session.notices$, 'commandFinished');
      await side.startCommand('1', 'upload_file', { path, blocksize: 16 * 1024, maxsize: null, keepstamp: false });
      await waitFor(() => side.opsFor('1').filter((op) => op.op === 'write').length >= 3, 3000, 'some blocks');
      side.connection.abort();
      const notice = await finished;
      expect(notice.killed).toBe(true);
      expect(side.uploaded('1').length).toBeLessThan(2 * 1024 * 1024);
    } finally {
      await session?.stop();
      session = undefined;
      await slow.close();
    }
  });
});
