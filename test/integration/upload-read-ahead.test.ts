/**
 * The worker's upload loop reads its source ahead, a megabyte (a whole number of blocks) at a time,
 * into a ring of buffers reused for the whole file, sized so that no chunk is refilled while the
 * channel still holds some of its bytes (`retainedBytes`: the AMP channel sends blocks without
 * copying them, a window of them in flight). These tests pin down that read-ahead changes nothing
 * on the wire and never overwrites a block the channel still holds.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AmpConnection } from '../../actors/amp-connection.js';
import { AmpCommandChannel } from '../../actors/worker/command-channel.js';
import { MAX_BLOCK_SIZE } from '../../codec/protocols/worker-commands.js';
import { READ_AHEAD, uploadBlocks } from '../../actors/worker/commands/block-upload.js';
import { TransferStatus } from '../../actors/worker/commands/transfer-status.js';
import { removeDir, tempRoot } from './harness.js';

let root: string;
let path: string;
const content = randomBytes(3 * READ_AHEAD + 12_345);

beforeAll(() => {
  root = tempRoot('ampstate-read-ahead-');
  path = join(root, 'source.bin');
  writeFileSync(path, content);
});

afterAll(() => removeDir(root));

/** A FileHandle that counts its reads. */
async function countingHandle(): Promise<{ handle: FileHandle; reads: () => number }> {
  const handle = await open(path, 'r');
  let reads = 0;
  const read = handle.read.bind(handle) as (...args: unknown[]) => ReturnType<FileHandle['read']>;
  (handle as unknown as { read: (...args: unknown[]) => unknown }).read = (...args: unknown[]) => {
    reads++;
    return read(...args);
  };
  return { handle, reads: () => reads };
}

async function upload(options: { blocksize: number; maxsize?: number | null; reuseBuffer: boolean; copy: boolean }) {
  const { handle, reads } = await countingHandle();
  const blocks: Buffer[] = [];
  const status = new TransferStatus();
  try {
    await uploadBlocks({
      source: handle,
      path,
      blocksize: options.blocksize,
      maxsize: options.maxsize ?? null,
      status,
      stopped: () => false,
      reuseBuffer: options.reuseBuffer,
      writeBlock: async (data) => void blocks.push(options.copy ? Buffer.from(data) : data),
    });
  } finally {
    await handle.close();
  }
  return { blocks, reads: reads(), status };
}

/** uploadBlocks with 60 KiB blocks, no limit and a reused buffer: only the file and the channel vary. */
function plainUpload(source: FileHandle, writeBlock: (data: Buffer) => Promise<void>): Promise<void> {
  return uploadBlocks({ source, path, blocksize: 61_440, maxsize: null, status: new TransferStatus(), stopped: () => false, reuseBuffer: true, writeBlock });
}

describe('uploadBlocks read-ahead', () => {
  it.each([
    { reuseBuffer: false, copy: false, label: 'a channel that keeps the blocks gets fresh buffers' },
    { reuseBuffer: true, copy: true, label: 'a copying channel gets one reused buffer' },
  ])('$label: same bytes, full blocks, one read per chunk', async ({ reuseBuffer, copy }) => {
    const blocksize = 61_440;
    const { blocks, reads } = await upload({ blocksize, reuseBuffer, copy });
    expect(Buffer.concat(blocks).equals(content)).toBe(true);
    // Every block is full but the last, exactly as one read per block would have cut them.
    expect(blocks.slice(0, -1).every((block) => block.length === blocksize)).toBe(true);
    expect(blocks.length).toBe(Math.ceil(content.length / blocksize));
    const chunk = blocksize * Math.floor(READ_AHEAD / blocksize);
    // One read per chunk, plus the short one that finds the end.
    expect(reads).toBeLessThanOrEqual(Math.ceil(content.length / chunk) + 1);
  });

  it('reuses its buffer only when told the channel copies', async () => {
    const { handle } = await countingHandle();
    const seen = new Set<ArrayBufferLike>();
    try {
      await uploadBlocks({
        source: handle,
        path,
        blocksize: 100_000,
        maxsize: null,
        status: new TransferStatus(),
        stopped: () => false,
        reuseBuffer: true,
        writeBlock: async (data) => void seen.add(data.buffer),
      });
    } finally {
      await handle.close();
    }
    // Two: the chunk being sent and the next one, read meanwhile.
    expect(seen.size).toBe(2);
    const fresh = await upload({ blocksize: 100_000, reuseBuffer: false, copy: false });
    expect(new Set(fresh.blocks.map((block) => block.buffer)).size).toBe(Math.ceil(content.length / (100_000 * 10)));
  });

  it('maxsize inside the second chunk: exactly maxsize bytes, then the truncation failure (rc 1)', async () => {
    const maxsize = READ_AHEAD + 4321;
    const { blocks, status } = await upload({ blocksize: 30_000, maxsize, reuseBuffer: true, copy: true });
    expect(Buffer.concat(blocks).equals(content.subarray(0, maxsize))).toBe(true);
    expect(status.rc).toBe(1);
    expect(status.stderr).toBe(`Maximum filesize reached, truncating file '${path}'`);
  });

  it.each([
    { blocksize: 61_440, retained: 15 * 61_440 },
    { blocksize: 61_440, retained: 40 * 61_440 },
    { blocksize: 30_000, retained: 0 },
  ])('a channel still holding its last $retained bytes never sees them overwritten (blocksize $blocksize)', async ({ blocksize, retained }) => {
    const { handle } = await countingHandle();
    // What the channel still references, as the AMP channel does with blocks in flight.
    const held: Array<{ block: Buffer; offset: number }> = [];
    const buffers = new Set<ArrayBufferLike>();
    let sent = 0;
    let overwritten = 0;
    const check = () => {
      for (const { block, offset } of held) if (!block.equals(content.subarray(offset, offset + block.length))) overwritten++;
    };
    try {
      await uploadBlocks({
        source: handle,
        path,
        blocksize,
        maxsize: null,
        status: new TransferStatus(),
        stopped: () => false,
        retainedBytes: retained,
        writeBlock: async (data) => {
          check();
          buffers.add(data.buffer);
          held.push({ block: data, offset: sent });
          sent += data.length;
          // Once this resolves, only the latest `retained` bytes are still held.
          while (held.length > 0 && held[0]!.offset + held[0]!.block.length <= sent - retained) held.shift();
        },
      });
      check();
    } finally {
      await handle.close();
    }
    expect(sent).toBe(content.length);
    expect(overwritten).toBe(0);
    // A ring just large enough (the chunk being sent, the one read ahead, those still held): no
    // buffer per chunk, let alone per block, once the file is longer than the ring.
    const chunk = blocksize * Math.floor(READ_AHEAD / blocksize);
    expect(buffers.size).toBe(Math.min(Math.ceil(content.length / chunk), 2 + Math.ceil(retained / chunk)));
  });

  it('reads the next chunk while the blocks of this one are sent', async () => {
    const { handle, reads } = await countingHandle();
    const readsAtBlock: number[] = [];
    try {
      await plainUpload(handle, async () => void readsAtBlock.push(reads()));
    } finally {
      await handle.close();
    }
    // The second chunk's read has started before the first block leaves.
    expect(readsAtBlock[0]).toBe(2);
  });

  it('a read ahead that fails while blocks are sent fails the upload, and is no unhandled rejection (which ends the worker)', async () => {
    let reads = 0;
    // The first chunk reads; the one read ahead fails with EIO while the first chunk's blocks are sent.
    const failing = {
      read: async (into: Buffer, offset: number, length: number) => {
        reads++;
        if (reads === 1) return { bytesRead: length, buffer: into.fill(7, offset, offset + length) };
        throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
      },
    } as unknown as FileHandle;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await expect(plainUpload(failing, () => new Promise((sent) => setTimeout(sent, 5)))).rejects.toMatchObject({ code: 'EIO' });
      // Unhandled rejections are reported after the microtasks of the turn that made them.
      await new Promise((turned) => setTimeout(turned, 20));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(reads).toBe(2);
    expect(unhandled).toEqual([]);
  });

  it('the AMP channel declares the window less one block as still held when writeBlock resolves', () => {
    const channel = (window: number) => new AmpCommandChannel({} as AmpConnection, '1', { transferWindow: window, logger: pino({ level: 'silent' }) });
    expect(channel(1).retainedBytes).toBe(0);
    expect(channel(16).retainedBytes).toBe(15 * MAX_BLOCK_SIZE);
  });
});
