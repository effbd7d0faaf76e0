import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PathEscapeError, TransferSourceError, WorkerDisconnectedError } from '../../actors/master/errors.js';
import { TEMP_PREFIX } from '../../actors/master/file-writer.js';
import type { InMemoryConnection } from '../../actors/master/in-memory-connection.js';
import { CANCELLED, FAILURE, RETRY, SUCCESS } from '../../actors/master/results.js';
import { downloadFile, uploadDirectory, uploadFile } from '../../actors/master/transfers.js';
import { InProcessWorker, type InProcessWorkerOptions } from './in-process-worker.js';

let root: string;
let workerBase: string;
let masterBase: string;
let buildDir: string;
const connections: InMemoryConnection[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ampstate-transfer-'));
  workerBase = join(root, 'worker');
  masterBase = join(root, 'master');
  buildDir = join(workerBase, 'build-b', 'build');
  mkdirSync(buildDir, { recursive: true });
  mkdirSync(masterBase);
});

afterEach(async () => {
  for (const connection of connections.splice(0)) {
    connection.loseConnection();
    await connection.detached;
  }
  rmSync(root, { recursive: true, force: true });
});

async function worker(options: Partial<InProcessWorkerOptions> = {}) {
  const inProcess = new InProcessWorker({ basedir: workerBase, ...options });
  const connection = await inProcess.connect();
  connections.push(connection);
  return { inProcess, connection };
}

/** Files left in the master base: nothing partial, no temp file. */
function masterFiles(): string[] {
  return readdirSync(masterBase, { recursive: true }).map(String).sort();
}

describe('uploadFile', () => {
  it('copies a worker file with progress, keepstamp and mode, pipelining a window of writes in order', async () => {
    const content = randomBytes(20_000);
    writeFileSync(join(buildDir, 'artifact.bin'), content);
    utimesSync(join(buildDir, 'artifact.bin'), 1_600_000_000, 1_600_000_000);
    const { inProcess, connection } = await worker({ window: 4 });
    const transfer = uploadFile(connection, {
      builderName: 'b',
      workersrc: 'artifact.bin',
      masterdest: 'out/artifact.bin',
      masterBasedir: masterBase,
      blocksize: 1000,
      keepstamp: true,
      mode: 0o600,
    });
    const progress: number[] = [];
    transfer.progress$.subscribe(({ bytes }) => progress.push(bytes));
    const result = await transfer.result;
    expect(result).toMatchObject({ rc: 0, results: SUCCESS, bytes: 20_000, path: join(masterBase, 'out/artifact.bin') });
    expect(readFileSync(join(masterBase, 'out/artifact.bin'))).toEqual(content);
    expect(statSync(join(masterBase, 'out/artifact.bin')).mode & 0o777).toBe(0o600);
    expect(statSync(join(masterBase, 'out/artifact.bin')).mtimeMs).toBe(1_600_000_000_000);
    // One event per batch: the writes in flight reach the writer at once and share a writev.
    expect(progress.length).toBeLessThan(20);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(20_000);
    expect(inProcess.maxWritesInFlight).toBe(4);
    expect(inProcess.started[0]).toMatchObject({ name: 'upload_file', args: { path: join(buildDir, 'artifact.bin'), blocksize: 1000 } });
    expect(masterFiles()).toEqual(['out', 'out/artifact.bin']);
  });

  it('moves an empty file and a one-byte file', async () => {
    writeFileSync(join(buildDir, 'empty'), '');
    writeFileSync(join(buildDir, 'one'), 'x');
    const { connection } = await worker();
    for (const name of ['empty', 'one']) {
      const result = await uploadFile(connection, { builderName: 'b', workersrc: name, masterdest: name, masterBasedir: masterBase }).result;
      expect(result.results).toBe(SUCCESS);
      expect(readFileSync(join(masterBase, name), 'utf8')).toBe(name === 'one' ? 'x' : '');
    }
  });

  it('purges the destination when the source is missing or maxsize is reached', async () => {
    writeFileSync(join(buildDir, 'big'), 'x'.repeat(100));
    const { connection } = await worker();
    const missingTransfer = uploadFile(connection, { builderName: 'b', workersrc: 'nope', masterdest: 'nope', masterBasedir: masterBase });
    const stderr: unknown[] = [];
    missingTransfer.command.updates$.subscribe(({ key, value }) => key === 'stderr' && stderr.push(value));
    expect(await missingTransfer.result).toMatchObject({ rc: 1, results: FAILURE, bytes: 0 });
    expect(stderr).toEqual([`Cannot open file '${join(buildDir, 'nope')}' for upload\n`]);
    // Buildbot's off-by-one: exactly maxsize bytes counts as truncated.
    for (const maxsize of [10, 100]) {
      const truncated = uploadFile(connection, { builderName: 'b', workersrc: 'big', masterdest: 'big', masterBasedir: masterBase, maxsize });
      expect(await truncated.result).toMatchObject({ rc: 1, results: FAILURE, bytes: maxsize });
    }
    expect(masterFiles()).toEqual([]);
  });

  it('refuses a destination outside masterBasedir before the worker is asked, writing nothing', async () => {
    writeFileSync(join(buildDir, 'a'), 'a');
    const { inProcess, connection } = await worker();
    for (const masterdest of ['../escaped', join(root, 'escaped')]) {
      const transfer = uploadFile(connection, { builderName: 'b', workersrc: 'a', masterdest, masterBasedir: masterBase });
      const error = await transfer.result.catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(PathEscapeError);
      expect((error as PathEscapeError).code).toBe('WORKER_ERR_PATH_ESCAPE');
    }
    const viaDirectory = uploadDirectory(connection, { builderName: 'b', workersrc: '.', masterdest: '../x', masterBasedir: masterBase });
    await expect(viaDirectory.result).rejects.toBeInstanceOf(PathEscapeError);
    const viaDownload = downloadFile(connection, { builderName: 'b', mastersrc: '../../etc/passwd', workerdest: 'p', masterBasedir: masterBase });
    await expect(viaDownload.result).rejects.toBeInstanceOf(PathEscapeError);
    expect(inProcess.started).toEqual([]);
    expect(existsSync(join(root, 'escaped'))).toBe(false);
    expect(existsSync(join(buildDir, 'p'))).toBe(false);
  });

  it('a disconnect mid-transfer ends it as RETRY and leaves no partial destination', async () => {
    writeFileSync(join(buildDir, 'big'), randomBytes(50_000));
    let writes = 0;
    let connection: InMemoryConnection | undefined;
    const setup = await worker({
      window: 2,
      beforeMasterCall: (op) => {
        if (op === 'write' && ++writes === 5) connection?.disconnect();
      },
    });
    connection = setup.connection;
    const result = await uploadFile(connection, { builderName: 'b', workersrc: 'big', masterdest: 'big', masterBasedir: masterBase, blocksize: 1000 })
      .result;
    expect(result.results).toBe(RETRY);
    expect(result.failure).toBeInstanceOf(WorkerDisconnectedError);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(masterFiles()).toEqual([]);
    expect(setup.inProcess.running.size).toBe(0);
  });

  it('an interrupt mid-transfer ends it CANCELLED and purges', async () => {
    writeFileSync(join(buildDir, 'big'), randomBytes(50_000));
    let writes = 0;
    let interrupt: (() => void) | undefined;
    const { connection } = await worker({
      beforeMasterCall: (op) => {
        if (op === 'write' && ++writes === 3) interrupt?.();
      },
    });
    const transfer = uploadFile(connection, { builderName: 'b', workersrc: 'big', masterdest: 'big', masterBasedir: masterBase, blocksize: 1000 });
    interrupt = () => void transfer.interrupt('enough');
    const result = await transfer.result;
    expect(result).toMatchObject({ rc: 1, interrupted: true, results: CANCELLED });
    expect(masterFiles()).toEqual([]);
    expect(readdirSync(masterBase).filter((name) => name.startsWith(TEMP_PREFIX))).toEqual([]);
  });
});

describe('uploadDirectory', () => {
  for (const compress of [null, 'gz', 'bz2'] as const) {
    it(`copies a worker directory (${compress ?? 'plain'}) and unpacks it on the master`, async () => {
      const source = join(buildDir, 'dist');
      mkdirSync(join(source, 'lib'), { recursive: true });
      writeFileSync(join(source, 'index.js'), 'console.log(1)\n');
      writeFileSync(join(source, 'lib', 'data.bin'), randomBytes(30_000));
      const { connection } = await worker({ window: 3 });
      const result = await uploadDirectory(connection, { builderName: 'b', workersrc: 'dist', masterdest: 'site', masterBasedir: masterBase, compress })
        .result;
      expect(result).toMatchObject({ rc: 0, results: SUCCESS });
      expect(masterFiles()).toEqual(['site', 'site/index.js', 'site/lib', 'site/lib/data.bin']);
      expect(readFileSync(join(masterBase, 'site/lib/data.bin'))).toEqual(readFileSync(join(source, 'lib', 'data.bin')));
    });
  }
});

describe('transfers over AMP boxes', () => {
  it('a windowed upload and a download between ampstate peers arrive intact and in order', async () => {
    const content = randomBytes(300_000);
    writeFileSync(join(buildDir, 'big.bin'), content);
    writeFileSync(join(masterBase, 'down.bin'), content);
    const inProcess = new InProcessWorker({ basedir: workerBase, window: 8 });
    const { connection, listener } = await inProcess.connectOverAmp();
    try {
      expect(connection.transferWindow).toBe(8);
      const up = await uploadFile(connection, { builderName: 'b', workersrc: 'big.bin', masterdest: 'up.bin', masterBasedir: masterBase, blocksize: 8192 })
        .result;
      expect(up).toMatchObject({ rc: 0, results: SUCCESS, bytes: 300_000 });
      expect(readFileSync(join(masterBase, 'up.bin')).equals(content)).toBe(true);
      expect(inProcess.maxWritesInFlight).toBe(8);
      const down = await downloadFile(connection, {
        builderName: 'b',
        mastersrc: 'down.bin',
        workerdest: 'down.bin',
        masterBasedir: masterBase,
        blocksize: 1 << 20,
      }).result;
      expect(down).toMatchObject({ rc: 0, results: SUCCESS, bytes: 300_000 });
      expect(readFileSync(join(buildDir, 'down.bin')).equals(content)).toBe(true);
    } finally {
      await listener.stop();
    }
  });
});

describe('downloadFile', () => {
  it('copies a master file to the worker with progress and mode', async () => {
    const content = randomBytes(40_000);
    writeFileSync(join(masterBase, 'tool.sh'), content);
    const { inProcess, connection } = await worker();
    const transfer = downloadFile(connection, {
      builderName: 'b',
      mastersrc: 'tool.sh',
      workerdest: 'bin/tool.sh',
      masterBasedir: masterBase,
      mode: 0o755,
      blocksize: 16_384,
    });
    const progress: Array<{ bytes: number; total?: number }> = [];
    transfer.progress$.subscribe((event) => progress.push(event));
    const result = await transfer.result;
    expect(result).toMatchObject({ rc: 0, results: SUCCESS, bytes: 40_000 });
    expect(readFileSync(join(buildDir, 'bin/tool.sh'))).toEqual(content);
    expect(statSync(join(buildDir, 'bin/tool.sh')).mode & 0o777).toBe(0o755);
    expect(progress.map((event) => event.bytes)).toEqual([16_384, 32_768, 40_000]);
    expect(progress.every((event) => event.total === 40_000)).toBe(true);
    expect(inProcess.started[0]).toMatchObject({ name: 'download_file', args: { path: join(buildDir, 'bin/tool.sh'), mode: 0o755 } });
  });

  it('fails before asking the worker when the master file cannot be read', async () => {
    const { inProcess, connection } = await worker();
    await expect(
      downloadFile(connection, { builderName: 'b', mastersrc: 'missing', workerdest: 'x', masterBasedir: masterBase }).result,
    ).rejects.toBeInstanceOf(TransferSourceError);
    expect(inProcess.started).toEqual([]);
  });
});
