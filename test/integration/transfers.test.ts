/**
 * File transfers between the master (this process) and an `ampstate worker` child process over
 * loopback: uploadFile and downloadFile of 0 B, 1 B and 10 MB (windowed, and stop-and-wait),
 * exactly maxsize (Buildbot's off-by-one: rc 1), downloadFile's mode, keepstamp, and
 * uploadDirectory plain, gz and bz2. Nothing partial or temporary is ever left on the master.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILURE, SUCCESS } from '../../actors/master/results.js';
import { downloadFile, uploadDirectory, uploadFile } from '../../actors/master/transfers.js';
import { largeSlabCounts } from '../../actors/read-slab.js';
import { BUILDER, listTree, startFarm, type Farm } from './harness.js';

const MB10 = 10 * 1024 * 1024;

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function writeWorkerFile(farm: Farm, relative: string, content: Buffer | string): void {
  const path = join(farm.buildDir, relative);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/** No `buildbot-transfer-*` temp file anywhere on the master. */
function expectNoTempFiles(farm: Farm): void {
  expect(listTree(farm.masterBase).filter((entry) => entry.includes('buildbot-transfer-'))).toEqual([]);
}

describe.each([
  { window: 'windowed (16 blocks in flight)', workerArgs: [] as string[] },
  { window: 'stop-and-wait (--transfer-window 1)', workerArgs: ['--transfer-window', '1'] },
])('file transfers, $window', ({ workerArgs }) => {
  let farm: Farm;

  beforeAll(async () => {
    farm = await startFarm({ workerArgs });
  });

  afterAll(async () => {
    await farm?.stop();
  });

  it('negotiated the transfer window the worker offered', () => {
    expect(farm.connection.transferWindow).toBe(workerArgs.length > 0 ? 1 : 16);
  });

  describe.each([
    { size: 0, label: '0 B' },
    { size: 1, label: '1 B' },
    { size: MB10, label: '10 MB' },
  ])('$label', ({ size, label }) => {
    const content = randomBytes(size);

    it('uploadFile copies it byte for byte, reporting progress, and leaves no temp file', async () => {
      writeWorkerFile(farm, `up/${size}.bin`, content);
      const transfer = uploadFile(farm.connection, {
        builderName: BUILDER,
        workersrc: `up/${size}.bin`,
        masterdest: `uploads/${size}.bin`,
        masterBasedir: farm.masterBase,
      });
      const progress: number[] = [];
      transfer.progress$.subscribe(({ bytes }) => progress.push(bytes));
      const slabsBefore = largeSlabCounts();
      const result = await transfer.result;
      expect(result, label).toMatchObject({ rc: 0, results: SUCCESS, bytes: size, failure: undefined });
      // The blocks were written from the master's read slabs, which went round (actors/read-slab.ts).
      if (size === MB10 && workerArgs.length === 0) expect(largeSlabCounts().reused).toBeGreaterThan(slabsBefore.reused);
      const received = readFileSync(join(farm.masterBase, `uploads/${size}.bin`));
      expect(received.length).toBe(size);
      expect(sha(received)).toBe(sha(content));
      expect(progress.at(-1) ?? 0).toBe(size);
      // The default upload blocksize is 60 KiB (256 KiB capped to one AMP value). One event per
      // batch written: stop-and-wait writes one block at a time, a window gathers what arrives.
      const blocks = Math.ceil(MB10 / (60 * 1024));
      if (size === MB10 && workerArgs.length > 0) expect(progress.length).toBe(blocks);
      if (size === MB10 && workerArgs.length === 0) expect(progress.length).toBeLessThanOrEqual(blocks);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      expectNoTempFiles(farm);
    });

    it('downloadFile copies it byte for byte and applies mode on the worker', async () => {
      writeFileSync(join(farm.masterBase, `down-${size}.bin`), content);
      const transfer = downloadFile(farm.connection, {
        builderName: BUILDER,
        mastersrc: `down-${size}.bin`,
        workerdest: `down/${size}.bin`,
        masterBasedir: farm.masterBase,
        mode: 0o640,
        blocksize: 60 * 1024,
      });
      const progress: Array<{ bytes: number; total?: number }> = [];
      transfer.progress$.subscribe((event) => progress.push(event));
      const result = await transfer.result;
      expect(result, label).toMatchObject({ rc: 0, results: SUCCESS, bytes: size, failure: undefined });
      const path = join(farm.buildDir, `down/${size}.bin`);
      const received = readFileSync(path);
      expect(received.length).toBe(size);
      expect(sha(received)).toBe(sha(content));
      expect(statSync(path).mode & 0o777).toBe(0o640);
      if (size > 0) expect(progress.at(-1)).toEqual({ bytes: size, total: size });
      // One event per batch of reads: a window of reads in flight reaches the reader together.
      const blocks = Math.ceil(MB10 / (60 * 1024));
      if (size === MB10 && workerArgs.length > 0) expect(progress).toHaveLength(blocks);
      if (size === MB10 && workerArgs.length === 0) expect(progress.length).toBeLessThan(blocks);
    });
  });

  it('uploadFile with an odd blocksize across read-ahead chunks (1 MiB) keeps every byte in order', async () => {
    const content = randomBytes(2.5 * 1024 * 1024 + 123);
    writeWorkerFile(farm, 'odd/blocks.bin', content);
    const result = await uploadFile(farm.connection, {
      builderName: BUILDER,
      workersrc: 'odd/blocks.bin',
      masterdest: 'odd/blocks.bin',
      masterBasedir: farm.masterBase,
      blocksize: 50_001,
    }).result;
    expect(result).toMatchObject({ rc: 0, results: SUCCESS, bytes: content.length });
    expect(sha(readFileSync(join(farm.masterBase, 'odd/blocks.bin')))).toBe(sha(content));
  });

  it('uploadFile stops at a maxsize past the first read-ahead chunk: exactly maxsize bytes reach the master, rc 1', async () => {
    writeWorkerFile(farm, 'odd/long.bin', randomBytes(3 * 1024 * 1024));
    const maxsize = 1024 * 1024 + 777;
    const result = await uploadFile(farm.connection, {
      builderName: BUILDER,
      workersrc: 'odd/long.bin',
      masterdest: 'odd/long.bin',
      masterBasedir: farm.masterBase,
      maxsize,
      blocksize: 40_000,
    }).result;
    expect(result.rc).toBe(1);
    expect(result.bytes).toBe(maxsize);
    expect(existsSync(join(farm.masterBase, 'odd/long.bin'))).toBe(false);
    expectNoTempFiles(farm);
  });

  it('uploadFile of exactly maxsize bytes fails with rc 1 (Buildbot never probes EOF) and leaves nothing on the master', async () => {
    writeWorkerFile(farm, 'max/exact.bin', randomBytes(100_000));
    const exact = await uploadFile(farm.connection, {
      builderName: BUILDER,
      workersrc: 'max/exact.bin',
      masterdest: 'max/exact.bin',
      masterBasedir: farm.masterBase,
      maxsize: 100_000,
      blocksize: 30_000,
    }).result;
    expect(exact.rc).toBe(1);
    expect(exact.results).toBe(FAILURE);
    expect(existsSync(join(farm.masterBase, 'max/exact.bin'))).toBe(false);
    expectNoTempFiles(farm);

    // One byte of headroom: it fits.
    const fits = await uploadFile(farm.connection, {
      builderName: BUILDER,
      workersrc: 'max/exact.bin',
      masterdest: 'max/fits.bin',
      masterBasedir: farm.masterBase,
      maxsize: 100_001,
      blocksize: 30_000,
    }).result;
    expect(fits).toMatchObject({ rc: 0, results: SUCCESS, bytes: 100_000 });
  });

  it('the worker explains the maxsize failure on stderr', async () => {
    writeWorkerFile(farm, 'max/exact2.bin', 'abcde');
    const transfer = uploadFile(farm.connection, {
      builderName: BUILDER,
      workersrc: 'max/exact2.bin',
      masterdest: 'max/exact2.bin',
      masterBasedir: farm.masterBase,
      maxsize: 5,
    });
    const stderr: string[] = [];
    transfer.command.updates$.subscribe(({ key, value }) => {
      if (key === 'stderr') stderr.push(String(value));
    });
    const result = await transfer.result;
    expect(result.rc).toBe(1);
    expect(stderr.join('')).toContain(`Maximum filesize reached, truncating file '${join(farm.buildDir, 'max/exact2.bin')}'`);
  });

  it('downloadFile of exactly maxsize bytes fails with rc 1; the partial file stays on the worker as in Buildbot', async () => {
    writeFileSync(join(farm.masterBase, 'max-down.bin'), randomBytes(70_000));
    const transfer = downloadFile(farm.connection, {
      builderName: BUILDER,
      mastersrc: 'max-down.bin',
      workerdest: 'max/down.bin',
      masterBasedir: farm.masterBase,
      maxsize: 70_000,
    });
    const stderr: string[] = [];
    transfer.command.updates$.subscribe(({ key, value }) => {
      if (key === 'stderr') stderr.push(String(value));
    });
    const result = await transfer.result;
    expect(result.rc).toBe(1);
    expect(result.results).toBe(FAILURE);
    expect(stderr.join('')).toContain('Maximum filesize reached, truncating file');
    expect(statSync(join(farm.buildDir, 'max/down.bin')).size).toBe(70_000);
  });

  it('uploadFile with keepstamp and mode applies both on the master', async () => {
    writeWorkerFile(farm, 'stamped.txt', 'stamped');
    utimesSync(join(farm.buildDir, 'stamped.txt'), 1_500_000_000, 1_600_000_000);
    const result = await uploadFile(farm.connection, {
      builderName: BUILDER,
      workersrc: 'stamped.txt',
      masterdest: 'stamped.txt',
      masterBasedir: farm.masterBase,
      keepstamp: true,
      mode: 0o604,
    }).result;
    expect(result.rc).toBe(0);
    const stats = statSync(join(farm.masterBase, 'stamped.txt'));
    expect(stats.mtimeMs).toBe(1_600_000_000_000);
    expect(stats.atimeMs).toBe(1_500_000_000_000);
    expect(stats.mode & 0o777).toBe(0o604);
  });

  it('uploadFile of a missing worker file is rc 1 and leaves nothing on the master', async () => {
    const transfer = uploadFile(farm.connection, { builderName: BUILDER, workersrc: 'no/such.file', masterdest: 'missing.bin', masterBasedir: farm.masterBase });
    const stderr: string[] = [];
    transfer.command.updates$.subscribe(({ key, value }) => key === 'stderr' && stderr.push(String(value)));
    const result = await transfer.result;
    expect(result.rc).toBe(1);
    expect(stderr.join('')).toContain(`Cannot open file '${join(farm.buildDir, 'no/such.file')}' for upload`);
    expect(existsSync(join(farm.masterBase, 'missing.bin'))).toBe(false);
    expectNoTempFiles(farm);
  });
});

describe('uploadDirectory', () => {
  let farm: Farm;
  const big = randomBytes(300_000);

  beforeAll(async () => {
    farm = await startFarm();
    writeWorkerFile(farm, 'tree/top.txt', 'top\n');
    writeWorkerFile(farm, 'tree/sub/deeper/big.bin', big);
    writeWorkerFile(farm, 'tree/sub/empty-file', '');
    writeWorkerFile(farm, 'tree/sub/text.txt', 'compressible line\n'.repeat(30_000));
    mkdirSync(join(farm.buildDir, 'tree/empty-dir'), { recursive: true });
    symlinkSync('sub/deeper/big.bin', join(farm.buildDir, 'tree/link'));
  });

  afterAll(async () => {
    await farm?.stop();
  });

  it.each([null, 'gz', 'bz2'] as const)('compress %s: the tree is unpacked on the master, symlinks as links, no tar left', async (compress) => {
    const masterdest = `dirs/${compress ?? 'plain'}`;
    const progress: number[] = [];
    const transfer = uploadDirectory(farm.connection, { builderName: BUILDER, workersrc: 'tree', masterdest, masterBasedir: farm.masterBase, compress });
    transfer.progress$.subscribe(({ bytes }) => progress.push(bytes));
    const result = await transfer.result;
    expect(result).toMatchObject({ rc: 0, results: SUCCESS, failure: undefined });
    const root = join(farm.masterBase, masterdest);
    expect(listTree(root)).toEqual(['empty-dir', 'link', 'sub', 'sub/deeper', 'sub/deeper/big.bin', 'sub/empty-file', 'sub/text.txt', 'top.txt']);
    expect(readFileSync(join(root, 'sub/text.txt'), 'utf8')).toBe('compressible line\n'.repeat(30_000));
    expect(readFileSync(join(root, 'top.txt'), 'utf8')).toBe('top\n');
    expect(sha(readFileSync(join(root, 'sub/deeper/big.bin')))).toBe(sha(big));
    expect(lstatSync(join(root, 'link')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(root, 'link'))).toBe('sub/deeper/big.bin');
    expect(progress.at(-1)).toBe(result.bytes);
    // 300 KB of random bytes and 540 KB of one repeated line: only a compressed tar is under 400 KB.
    if (compress === null) expect(result.bytes).toBeGreaterThan(840_000);
    else expect(result.bytes).toBeLessThan(400_000);
    expectNoTempFiles(farm);
  });

  it('a missing directory is rc 1 with the worker message and creates nothing on the master', async () => {
    const transfer = uploadDirectory(farm.connection, { builderName: BUILDER, workersrc: 'no-tree', masterdest: 'dirs/none', masterBasedir: farm.masterBase, compress: 'gz' });
    const stderr: string[] = [];
    transfer.command.updates$.subscribe(({ key, value }) => key === 'stderr' && stderr.push(String(value)));
    const result = await transfer.result;
    expect(result.rc).toBe(1);
    expect(stderr.join('')).toContain(`Cannot read directory '${join(farm.buildDir, 'no-tree')}' for upload`);
    expect(existsSync(join(farm.masterBase, 'dirs/none'))).toBe(false);
    expectNoTempFiles(farm);
  });
});
