import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PathEscapeError, TransferSourceError, TransferStateError } from '../../actors/master/errors.js';
import { FileReader } from '../../actors/master/file-reader.js';
import { isLeased, releaseView } from '../../codec/slab-leases.js';

let root: string;
let base: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ampstate-reader-'));
  base = join(root, 'master');
  mkdirSync(base);
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('FileReader', () => {
  it('hands out blocks of at most maxLength, then empty at end of file, and reports progress', async () => {
    const content = Buffer.from('0123456789abcdefghij!');
    writeFileSync(join(base, 'src.bin'), content);
    const reader = new FileReader({ source: 'src.bin', masterBasedir: base });
    const progress: Array<{ bytes: number; total?: number }> = [];
    reader.progress$.subscribe((event) => progress.push(event));
    expect(await reader.open()).toBe(21);
    const blocks: string[] = [];
    for (;;) {
      const block = await reader.read(8);
      if (block.length === 0) break;
      blocks.push(block.toString());
    }
    expect(blocks).toEqual(['01234567', '89abcdef', 'ghij!']);
    await expect(reader.read(8)).resolves.toHaveLength(0);
    expect(progress).toEqual([
      { bytes: 8, total: 21 },
      { bytes: 16, total: 21 },
      { bytes: 21, total: 21 },
    ]);
    await reader.close();
    expect(reader.state).toBe('closed');
    await expect(reader.read(8)).rejects.toBeInstanceOf(TransferStateError);
  });

  it('serves concurrent reads in call order', async () => {
    writeFileSync(join(base, 'src'), Buffer.from('aaaabbbbccccdd'));
    const reader = new FileReader({ source: join(base, 'src') });
    const blocks = await Promise.all([reader.read(4), reader.read(4), reader.read(4), reader.read(4), reader.read(4)]);
    expect(blocks.map(String)).toEqual(['aaaa', 'bbbb', 'cccc', 'dd', '']);
  });

  it('serves reads that arrive while the file is busy as one batch: one machine event, one progress event', async () => {
    writeFileSync(join(base, 'src'), Buffer.from('aaaabbbbccccdd'));
    const reader = new FileReader({ source: join(base, 'src') });
    const progress: number[] = [];
    reader.progress$.subscribe((event) => progress.push(event.bytes));
    expect((await reader.read(4)).toString()).toBe('aaaa');
    const blocks = await Promise.all([reader.read(4), reader.read(4), reader.read(4), reader.read(4)]);
    expect(blocks.map(String)).toEqual(['bbbb', 'cccc', 'dd', '']);
    expect(progress).toEqual([4, 14]);
    expect(reader.actor.getSnapshot().context).toMatchObject({ bytes: 14, blocks: 4 });
    expect(reader.actor.getSnapshot().value).toBe('drained');
  });

  it('reads nothing ahead: a file truncated between reads gives no stale bytes', async () => {
    const path = join(base, 'src');
    writeFileSync(path, Buffer.from('aaaabbbbccccdddd'));
    const reader = new FileReader({ source: path });
    expect((await reader.read(4)).toString()).toBe('aaaa');
    writeFileSync(path, Buffer.from('AAAAB'));
    const blocks = await Promise.all([reader.read(4), reader.read(4)]);
    expect(blocks.map(String)).toEqual(['B', '']);
    writeFileSync(path, Buffer.from('AAAABBBBCC'));
    await reader.close();
  });

  it('a missing source or a directory fails with TransferSourceError', async () => {
    const missing = new FileReader({ source: join(base, 'nope') });
    const error = await missing.open().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TransferSourceError);
    expect((error as Error).message).toBe(`Cannot open file '${join(base, 'nope')}' for download`);
    await expect(new FileReader({ source: base }).read(10)).rejects.toBeInstanceOf(TransferSourceError);
  });

  it('refuses sources outside masterBasedir, lexically and through symlinks', async () => {
    writeFileSync(join(root, 'secret'), 'secret');
    expect(() => new FileReader({ source: '../secret', masterBasedir: base })).toThrow(PathEscapeError);
    symlinkSync(join(root, 'secret'), join(base, 'innocent'));
    await expect(new FileReader({ source: 'innocent', masterBasedir: base }).read(10)).rejects.toBeInstanceOf(PathEscapeError);
  });
});

describe('FileReader blocks for the worker (remoteRead)', () => {
  const BLOCK = 40_000;

  /** 256 KiB of distinct bytes, so a block served from the wrong place shows. */
  function source(): Buffer {
    const content = Buffer.allocUnsafe(256 * 1024);
    for (let i = 0; i < content.length; i++) content[i] = (i * 7 + (i >> 8)) & 0xff;
    writeFileSync(join(base, 'src.bin'), content);
    return content;
  }

  it('are leased, and read into the same buffer again once released', async () => {
    const content = source();
    const reader = new FileReader({ source: 'src.bin', masterBasedir: base });
    const first = await reader.remoteRead(BLOCK);
    expect(isLeased(first)).toBe(true);
    expect(first.equals(content.subarray(0, BLOCK))).toBe(true);
    // Still leased (on its way out): the next read goes elsewhere.
    const second = await reader.remoteRead(BLOCK);
    expect(second.buffer).not.toBe(first.buffer);
    expect(second.equals(content.subarray(BLOCK, 2 * BLOCK))).toBe(true);
    releaseView(first);
    const third = await reader.remoteRead(BLOCK);
    expect(third.buffer).toBe(first.buffer);
    expect(third.equals(content.subarray(2 * BLOCK, 3 * BLOCK))).toBe(true);
    // The block not yet released was not written over.
    expect(second.equals(content.subarray(BLOCK, 2 * BLOCK))).toBe(true);
    await reader.close();
  });

  it('cost no more than a buffer of their own once every ring buffer is claimed, or when small', async () => {
    source();
    const reader = new FileReader({ source: 'src.bin', masterBasedir: base });
    // A Buildbot worker's 16 KiB reads are not worth a ring buffer at all.
    const small = await reader.remoteRead(16 * 1024);
    expect(small.buffer.byteLength).toBe(16 * 1024);
    expect(isLeased(small)).toBe(false);
    // Never released, as over msgpack: the ring's buffers fill, then each read gets just what it needs.
    const blocks = [];
    for (let i = 0; i < 6; i++) blocks.push(await reader.remoteRead(BLOCK));
    expect(blocks.slice(0, 4).every((block) => block.buffer.byteLength === 1024 * 1024)).toBe(true);
    expect(blocks.slice(4).every((block) => block.buffer.byteLength === BLOCK)).toBe(true);
    await reader.close();
  });

  it('are the caller\'s own when read through read(): never leased, never reused', async () => {
    source();
    const reader = new FileReader({ source: 'src.bin', masterBasedir: base });
    const first = await reader.read(BLOCK);
    const second = await reader.read(BLOCK);
    expect(isLeased(first)).toBe(false);
    expect(second.buffer).not.toBe(first.buffer);
    await reader.close();
  });
});
