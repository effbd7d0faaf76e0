import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WorkerSession } from '../../actors/worker/session.js';
import { MAX_BLOCK_SIZE } from '../../codec/protocols/worker-commands.js';
import { FakeMaster, type FakeMasterOptions, type MasterSide } from './fake-master.js';
import { removeDir, startWorker, tempDir } from './helpers.js';

let master: FakeMaster | undefined;
let basedir: string;
let session: WorkerSession | undefined;

beforeEach(() => {
  basedir = tempDir();
});

afterEach(async () => {
  await session?.stop();
  await master?.close();
  session = undefined;
  master = undefined;
  removeDir(basedir);
});

/** A worker offering `workerWindow`, attached to a master allowing `options.transferWindow`. */
async function attach(options: FakeMasterOptions, workerWindow = 16): Promise<MasterSide> {
  master = await FakeMaster.listen(options);
  session = startWorker(master, basedir, { transferWindow: workerWindow });
  return master.attached();
}

function sourceFile(name: string, data: Buffer): string {
  const path = join(basedir, name);
  writeFileSync(path, data);
  return path;
}

const writes = (side: MasterSide, id: string) => side.opsFor(id).filter((op) => op.op === 'write');
const reads = (side: MasterSide, id: string) => side.opsFor(id).filter((op) => op.op === 'read');

describe('upload_file', () => {
  it('is stop-and-wait with a window of 1', async () => {
    const side = await attach({ transferWindow: 1, blockDelayMs: 3 });
    const data = randomBytes(40 * 1024 + 7);
    const path = sourceFile('src', data);
    const failure = await side.run('1', 'upload_file', { path, blocksize: 1024, maxsize: null, keepstamp: false });
    expect(failure).toBeUndefined();
    expect(side.maxInflight).toBe(1);
    expect(writes(side, '1')).toHaveLength(41);
    expect(side.uploaded('1').equals(data)).toBe(true);
    expect(side.value('1', 'rc')).toBe(0);
  });

  it('keeps the window full when it is larger than 1, and the blocks stay in order', async () => {
    const side = await attach({ transferWindow: 4, blockDelayMs: 5 }, 8);
    const data = randomBytes(64 * 1024 + 1);
    const path = sourceFile('src', data);
    const failure = await side.run('1', 'upload_file', { path, blocksize: 1024, maxsize: null, keepstamp: false });
    expect(failure).toBeUndefined();
    expect(side.maxInflight).toBe(4);
    expect(side.uploaded('1').equals(data)).toBe(true);
    // Every block is acknowledged before the writer is closed.
    const ops = side.opsFor('1').map((op) => op.op);
    expect(ops.lastIndexOf('write')).toBeLessThan(ops.indexOf('close'));
    expect(ops.at(-1)).toBe('complete');
  });

  it.each([
    ['0 B', 0],
    ['1 B', 1],
  ])('uploads %s', async (_label, size) => {
    const side = await attach({ transferWindow: 4 });
    const data = randomBytes(size);
    const path = sourceFile('src', data);
    const failure = await side.run('1', 'upload_file', { path, blocksize: 16 * 1024, maxsize: null, keepstamp: false });
    expect(failure).toBeUndefined();
    expect(side.uploaded('1').equals(data)).toBe(true);
    expect(writes(side, '1')).toHaveLength(size === 0 ? 0 : 1);
    expect(side.opsFor('1').map((op) => op.op).filter((op) => op !== 'update')).toEqual([...(size === 0 ? [] : ['write']), 'close', 'complete']);
    expect(side.value('1', 'rc')).toBe(0);
  });

  it('uploads 10 MB, cutting blocks larger than an AMP value', async () => {
    const side = await attach({ transferWindow: 16 });
    const data = randomBytes(10 * 1024 * 1024);
    const path = sourceFile('src', data);
    const failure = await side.run('1', 'upload_file', { path, blocksize: 256 * 1024, maxsize: null, keepstamp: false });
    expect(failure).toBeUndefined();
    expect(side.uploaded('1').equals(data)).toBe(true);
    expect(Math.max(...writes(side, '1').map((op) => (op.op === 'write' ? op.length : 0)))).toBe(MAX_BLOCK_SIZE);
  });

  it('fails a file of exactly maxsize bytes, as Buildbot does, and still closes the writer', async () => {
    const side = await attach({ transferWindow: 4 });
    const data = randomBytes(3000);
    const path = sourceFile('src', data);
    await side.run('1', 'upload_file', { path, blocksize: 1000, maxsize: 3000, keepstamp: false });
    expect(side.uploaded('1').equals(data)).toBe(true);
    expect(side.value('1', 'rc')).toBe(1);
    expect(side.text('1', 'stderr')).toBe(`Maximum filesize reached, truncating file '${path}'\n`);
    expect(side.opsFor('1').some((op) => op.op === 'close')).toBe(true);
  });

  it.each([1, 4])('reports a block the master refuses (window %i), and still closes the writer', async (window) => {
    const side = await attach({ transferWindow: window, failWriteAt: 3, blockDelayMs: 2 });
    const path = sourceFile('src', randomBytes(10 * 1024));
    const failure = await side.run('1', 'upload_file', { path, blocksize: 1024, maxsize: null, keepstamp: false });
    expect(failure).toMatch(/TransferError.*No space left on device/);
    const ops = side.opsFor('1').map((op) => op.op);
    expect(ops).toContain('close');
    expect(ops.at(-1)).toBe('complete');
    // No block is sent after the refusal was known (a window's worth may already be on the way).
    expect(ops.filter((op) => op === 'write').length).toBeLessThanOrEqual(3 + window - 1);
    if (window === 1) expect(side.value('1', 'rc')).toBe(1);
  });

  it('sends utime after close when keepstamp is set', async () => {
    const side = await attach({ transferWindow: 2 });
    const path = sourceFile('src', Buffer.from('stamp'));
    utimesSync(path, 1_000_000, 2_000_000);
    await side.run('1', 'upload_file', { path, blocksize: 100, maxsize: null, keepstamp: true });
    const ops = side.opsFor('1').filter((op) => op.op !== 'update');
    expect(ops.map((op) => op.op)).toEqual(['write', 'close', 'utime', 'complete']);
    expect(ops[2]).toMatchObject({ accessTime: 1_000_000, modifiedTime: 2_000_000 });
  });
});

describe('download_file', () => {
  it('is stop-and-wait with a window of 1', async () => {
    const side = await attach({ transferWindow: 1, blockDelayMs: 3 });
    const data = randomBytes(20 * 1024 + 3);
    const path = join(basedir, 'out', 'dest');
    side.downloads.set('1', data);
    const failure = await side.run('1', 'download_file', { path, blocksize: 1024, maxsize: null, mode: null });
    expect(failure).toBeUndefined();
    expect(side.maxInflight).toBe(1);
    expect(readFileSync(path).equals(data)).toBe(true);
    // 21 blocks and the empty read that means EOF.
    expect(reads(side, '1')).toHaveLength(22);
    expect(side.value('1', 'rc')).toBe(0);
  });

  it('keeps several reads in flight with a larger window, and writes the bytes in order', async () => {
    const side = await attach({ transferWindow: 4, blockDelayMs: 5 });
    const data = randomBytes(64 * 1024 + 5);
    const path = join(basedir, 'dest');
    side.downloads.set('1', data);
    const failure = await side.run('1', 'download_file', { path, blocksize: 1024, maxsize: null, mode: 0o640 });
    expect(failure).toBeUndefined();
    expect(side.maxInflight).toBe(4);
    expect(readFileSync(path).equals(data)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    const ops = side.opsFor('1').map((op) => op.op);
    expect(ops.lastIndexOf('read')).toBeLessThan(ops.indexOf('readClose'));
  });

  it.each([
    ['0 B', 0],
    ['1 B', 1],
    ['10 MB', 10 * 1024 * 1024],
  ])('downloads %s', async (_label, size) => {
    const side = await attach({ transferWindow: 8 });
    const data = randomBytes(size);
    const path = join(basedir, 'dest');
    side.downloads.set('1', data);
    const failure = await side.run('1', 'download_file', { path, blocksize: 32 * 1024, maxsize: null, mode: null });
    expect(failure).toBeUndefined();
    expect(readFileSync(path).equals(data)).toBe(true);
    expect(side.value('1', 'rc')).toBe(0);
    expect(side.opsFor('1').at(-1)?.op).toBe('complete');
  });

  it('fails a file of exactly maxsize bytes and keeps what it got', async () => {
    const side = await attach({ transferWindow: 4 });
    const data = randomBytes(2500);
    const path = join(basedir, 'dest');
    side.downloads.set('1', data);
    await side.run('1', 'download_file', { path, blocksize: 1000, maxsize: 2500, mode: null });
    expect(side.value('1', 'rc')).toBe(1);
    expect(side.text('1', 'stderr')).toBe(`Maximum filesize reached, truncating file '${path}'\n`);
    expect(readFileSync(path).equals(data)).toBe(true);
    // No read asks for more than blocksize.
    expect(reads(side, '1').every((op) => op.op === 'read' && op.length <= 1000)).toBe(true);
  });
});

describe('upload_directory', () => {
  it('sends the tar in windowed blocks and ends with unpack', async () => {
    const side = await attach({ transferWindow: 4 });
    const source = join(basedir, 'tree');
    mkdirSync(join(source, 'sub'), { recursive: true });
    writeFileSync(join(source, 'a.txt'), 'alpha');
    writeFileSync(join(source, 'sub', 'b.bin'), randomBytes(100_000));
    const failure = await side.run('1', 'upload_directory', { path: source, blocksize: 16 * 1024, maxsize: null, compress: 'gz' });
    expect(failure).toBeUndefined();
    const ops = side.opsFor('1').map((op) => op.op).filter((op) => op !== 'update');
    expect(ops.at(-2)).toBe('unpack');
    expect(ops).not.toContain('close');
    const archive = join(basedir, 'received.tgz');
    writeFileSync(archive, side.uploaded('1'));
    const names: string[] = [];
    await tar.t({ file: archive, onReadEntry: (entry) => names.push(entry.path) });
    expect(names).toEqual(expect.arrayContaining(['a.txt', 'sub/b.bin']));
  });
});
