/**
 * kill -9 of the worker and of the master in the middle of uploads (a file, a directory), a
 * download and a shell command. After each fault, and once the side that was killed has started
 * again: no partial file under a final name, no temp file of ours, no process group of a command
 * still running; a killed worker's calls fail with RETRY within a second. The last line on stdout
 * sums it up (faults injected, files partial or lost, temps left, orphans).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkerDisconnectedError } from '../../actors/master/errors.js';
import type { MasterConnection } from '../../actors/master/master-connection.js';
import { RemoteCommand } from '../../actors/master/remote-command.js';
import { RETRY, SUCCESS } from '../../actors/master/results.js';
import { downloadFile, uploadDirectory, uploadFile, type Transfer } from '../../actors/master/transfers.js';
import { processGroupMembers } from '../../actors/process-identity.js';
import { BUILDER, BUILDER_DIR, readPid, startMaster, waitAttached, type Master } from '../integration/harness.js';
import { temporaryDirectory } from '../support/temp-directory.js';
import { checkFinal, countOrphans, countTemps, MasterChild, recordedGroups, tally, until, WorkerChild } from './fault-harness.js';
import { WORKER_NAME } from './master-child-job.js';

const PASSWORD = 'pw-fw';
const SIZE = 8 * 1024 * 1024;
const BLOCK = 64 * 1024;
const content = randomBytes(SIZE);
const previous = Buffer.from('the artifact of the previous build\n');
const seenGroups: number[] = [];

afterAll(() => {
  for (const pgid of seenGroups) if (processGroupMembers(pgid).length > 0) process.kill(-pgid, 'SIGKILL');
  console.log(
    `faults: ${tally.faults} kill -9 injected, ${tally.partialFiles} partial files under a final name, ${tally.lostFiles} files lost, ` +
      `${tally.tempsLeft} temp files left, ${tally.orphans} orphan process groups`,
  );
});

interface Site {
  readonly workerBase: string;
  readonly buildDir: string;
  readonly masterBase: string;
  readonly tmp: string;
}

function site(): Site {
  const root = temporaryDirectory('ampstate-fault-');
  const workerBase = join(root, 'worker');
  const s = { workerBase, buildDir: join(workerBase, BUILDER_DIR, 'build'), masterBase: join(root, 'master'), tmp: join(root, 'tmp') };
  for (const directory of [s.buildDir, s.masterBase, s.tmp]) mkdirSync(directory, { recursive: true });
  writeFileSync(join(s.buildDir, 'big.bin'), content);
  mkdirSync(join(s.buildDir, 'tree', 'sub'), { recursive: true });
  writeFileSync(join(s.buildDir, 'tree', 'sub', 'big.bin'), content);
  writeFileSync(join(s.masterBase, 'big.bin'), content);
  mkdirSync(join(s.buildDir, 'fetched'));
  writeFileSync(join(s.buildDir, 'fetched', 'big.bin'), previous);
  return s;
}

/** What every check after a fault asserts; the counts go to the summary. */
function expectClean(s: Site, pgids: readonly number[] = []): void {
  expect(countTemps(s.workerBase, s.masterBase, s.tmp)).toEqual([]);
  expect(checkFinal(join(s.masterBase, 'out', 'big.bin'), {})).toBe(true);
  expect(existsSync(join(s.masterBase, 'out', 'tree'))).toBe(false);
  // A download that did not finish leaves the previous file whole.
  expect(checkFinal(join(s.buildDir, 'fetched', 'big.bin'), { equals: previous })).toBe(true);
  expect(countOrphans(pgids)).toEqual([]);
}

function shellLine(s: Site): string {
  return `echo $$ > ${join(s.buildDir, 'shell.pid')}; sleep 60`;
}

describe('kill -9 of the worker', () => {
  let master: Master;
  beforeAll(async () => {
    master = await startMaster({ workers: { [WORKER_NAME]: PASSWORD } });
  });
  afterAll(() => master.listener.stop());

  /** Starts the worker of `s` and waits for its new connection (not a dead one still listed). */
  async function attach(s: Site, previousConnection?: MasterConnection): Promise<{ worker: WorkerChild; connection: MasterConnection }> {
    const worker = WorkerChild.spawn({ endpoint: master.endpoint, basedir: s.workerBase, password: PASSWORD, tmp: s.tmp });
    for (;;) {
      const connection = await Promise.race([
        waitAttached(master.listener, WORKER_NAME),
        worker.exited.then(() => Promise.reject(new Error('the worker exited before attaching'))),
      ]);
      if (connection !== previousConnection) return { worker, connection };
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Kills the worker once the transfer moved `atBytes`; the call must end RETRY within a second. */
  async function killDuring(s: Site, start: (connection: MasterConnection) => Transfer, atBytes: number): Promise<MasterConnection> {
    const { worker, connection } = await attach(s);
    const transfer = start(connection);
    let killing: Promise<number> | undefined;
    transfer.progress$.subscribe((progress) => {
      if (killing === undefined && progress.bytes >= atBytes) killing = worker.kill9();
    });
    const result = await transfer.result;
    const endedAt = Date.now();
    expect(killing, 'the transfer ended before the fault').toBeDefined();
    expect(endedAt - (await killing!)).toBeLessThan(1000);
    expect(result.results).toBe(RETRY);
    expect(result.failure).toBeInstanceOf(WorkerDisconnectedError);
    return connection;
  }

  async function restartAndCheck(s: Site, dead: MasterConnection, pgids: readonly number[] = []): Promise<WorkerChild> {
    const { worker } = await attach(s, dead);
    expectClean(s, pgids);
    await worker.stop();
    return worker;
  }

  const common = { builderName: BUILDER, blocksize: BLOCK };
  it.each([
    ['at the first block', BLOCK],
    ['half way', SIZE / 2],
  ])('uploadFile, %s', async (_point, atBytes) => {
    const s = site();
    const dead = await killDuring(s, (c) => uploadFile(c, { ...common, workersrc: 'big.bin', masterdest: 'out/big.bin', masterBasedir: s.masterBase }), atBytes);
    await restartAndCheck(s, dead);
  });

  it('uploadDirectory at the first block: the worker’s tar is removed when it starts again', async () => {
    const s = site();
    const dead = await killDuring(s, (c) => uploadDirectory(c, { ...common, workersrc: 'tree', masterdest: 'out/tree', masterBasedir: s.masterBase }), BLOCK);
    expect(countTemps(s.tmp).length, 'the killed worker left its tar').toBe(1);
    tally.tempsLeft -= 1;
    await restartAndCheck(s, dead);
  });

  it.each([
    ['at the first block', BLOCK],
    ['half way', SIZE / 2],
  ])('downloadFile over an existing file, %s: the file keeps its old content, the temp goes at restart', async (_point, atBytes) => {
    const s = site();
    const download = (c: MasterConnection) => downloadFile(c, { ...common, mastersrc: 'big.bin', workerdest: 'fetched/big.bin', masterBasedir: s.masterBase });
    const dead = await killDuring(s, download, atBytes);
    expect(countTemps(s.buildDir).length, 'the killed worker left its temp').toBe(1);
    tally.tempsLeft -= 1;
    await restartAndCheck(s, dead);
  });

  it('shell: the sleep it leaves running is killed when the worker starts again', async () => {
    const s = site();
    const { worker, connection } = await attach(s);
    const run = new RemoteCommand('shell', { command: shellLine(s), workdir: 'build' }).run(connection, BUILDER);
    const pgid = await readPid(join(s.buildDir, 'shell.pid'));
    seenGroups.push(pgid);
    await until(() => (recordedGroups(s.workerBase).includes(pgid) ? true : undefined), 'the group to be recorded');
    const killedAt = await worker.kill9();
    const result = await run;
    expect(Date.now() - killedAt).toBeLessThan(1000);
    expect(result.results).toBe(RETRY);
    expect(processGroupMembers(pgid).length, 'SIGKILL left the command running').toBeGreaterThan(0);
    const again = await restartAndCheck(s, connection, [pgid]);
    expect(again.lines.some((line) => line.msg.includes(`killed process group ${pgid}`))).toBe(true);
    expect(recordedGroups(s.workerBase)).toEqual([]);
  });
});

describe('kill -9 of the master', () => {
  /** A master process runs `job` for a worker process until `faultAt` says kill it; returns the port and the worker. */
  async function killMasterDuring(s: Site, job: Pick<Parameters<typeof MasterChild.spawn>[0], 'operation' | 'worker' | 'master'>, faultAt: (m: MasterChild) => Promise<void>) {
    const master = MasterChild.spawn({ ...job, password: PASSWORD, masterBase: s.masterBase });
    const port = await master.port();
    const worker = WorkerChild.spawn({ endpoint: `tcp:127.0.0.1:${port}`, basedir: s.workerBase, password: PASSWORD, tmp: s.tmp });
    try {
      await faultAt(master);
    } finally {
      await master.kill9();
    }
    return { port, worker };
  }

  /** The master starts again on its port; its next upload into out/ removes what the killed one left there. */
  async function restartMasterAndUpload(s: Site, port: number): Promise<void> {
    const master = await startMaster({ port, workers: { [WORKER_NAME]: PASSWORD } });
    try {
      const connection = await waitAttached(master.listener, WORKER_NAME);
      writeFileSync(join(s.buildDir, 'small.bin'), 'next build');
      const result = await uploadFile(connection, { builderName: BUILDER, workersrc: 'small.bin', masterdest: 'out/small.bin', masterBasedir: s.masterBase }).result;
      expect(result.results).toBe(SUCCESS);
      expect(readFileSync(join(s.masterBase, 'out', 'small.bin'), 'utf8')).toBe('next build');
    } finally {
      await master.listener.stop();
    }
  }

  it.each([
    ['uploadFile', 'big.bin', 'out/big.bin'],
    ['uploadDirectory', 'tree', 'out/tree'],
  ] as const)('%s a quarter of the way: the temp it leaves is removed by the next upload into that directory', async (operation, worker, masterPath) => {
    const s = site();
    const { port, worker: child } = await killMasterDuring(s, { operation, worker, master: masterPath }, (m) => m.progressed(SIZE / 4));
    try {
      expect(countTemps(s.masterBase).length, 'the killed master left its temp').toBe(1);
      tally.tempsLeft -= 1;
      await restartMasterAndUpload(s, port);
      expectClean(s);
    } finally {
      await child.stop();
    }
  });

  it('downloadFile a quarter of the way: the worker drops its temp, the old file stays', async () => {
    const s = site();
    const { worker } = await killMasterDuring(s, { operation: 'downloadFile', worker: 'fetched/big.bin', master: 'big.bin' }, (m) => m.progressed(SIZE / 4));
    try {
      await worker.line((line) => line.msg.includes('ended after its connection was lost'), 'the download to end');
      expectClean(s);
    } finally {
      await worker.stop();
    }
  });

  it('shell: the worker kills the command’s process group and forgets it', async () => {
    const s = site();
    let pgid = 0;
    const { worker } = await killMasterDuring(s, { operation: 'shell', worker: shellLine(s), master: '' }, async () => {
      pgid = await readPid(join(s.buildDir, 'shell.pid'));
      seenGroups.push(pgid);
      await until(() => (recordedGroups(s.workerBase).includes(pgid) ? true : undefined), 'the group to be recorded');
    });
    try {
      await until(() => (processGroupMembers(pgid).length === 0 && !recordedGroups(s.workerBase).includes(pgid) ? true : undefined), 'the group to be gone and forgotten');
      expectClean(s, [pgid]);
    } finally {
      await worker.stop();
    }
  });
});
