/**
 * An uploaded block is written from the read slab it arrived in: leased until it is in the file,
 * and only when the writer is our own FileWriter (actors/master/leased-upload-block.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileWriter } from '../../actors/master/file-writer.js';
import { writeUploadBlock } from '../../actors/master/leased-upload-block.js';
import { FileWriterProxy } from '../../actors/master/proxies.js';
import { DecodedBox } from '../../codec/decoded-box.js';
import { isUnclaimed, trackSlab } from '../../codec/slab-leases.js';
import { CollectingWriter } from '../support/collecting-writer.js';
import { temporaryDirectory } from '../support/temp-directory.js';

/** A box whose `data` is the first `length` bytes of a tracked slab, as the decoder would deliver it. */
function arrived(length: number) {
  const slab = Buffer.allocUnsafeSlow(4096);
  slab.fill(7, 0, length);
  const record = trackSlab(slab);
  const box = new DecodedBox();
  box.add('data', slab, 0, length);
  return { record, box, data: box.get('data')! };
}

describe('writeUploadBlock', () => {
  it('leases the block until FileWriter has it in the file, and disowns its box', async () => {
    const base = temporaryDirectory('ampstate-leased-upload-');
    const writer = new FileWriter({ destination: 'out.bin', masterBasedir: base });
    const { record, box, data } = arrived(1000);
    const written = writeUploadBlock(new FileWriterProxy(writer), data, box);
    expect(box.disowned).toBe(true);
    expect(isUnclaimed(record)).toBe(false);
    await written;
    expect(isUnclaimed(record)).toBe(true);
    await writer.close();
    expect(readFileSync(join(base, 'out.bin'))).toEqual(Buffer.alloc(1000, 7));
  });

  it('gives the lease back when the write fails too', async () => {
    const base = temporaryDirectory('ampstate-leased-upload-');
    const writer = new FileWriter({ destination: 'out.bin', masterBasedir: base });
    await writer.cancel();
    const { record, box, data } = arrived(10);
    await expect(writeUploadBlock(new FileWriterProxy(writer), data, box)).rejects.toThrow();
    expect(isUnclaimed(record)).toBe(true);
  });

  it('leaves the box to pin its slab when the writer is anyone else, who may keep the block', async () => {
    const collecting = new CollectingWriter();
    const { box, data } = arrived(10);
    await writeUploadBlock(new FileWriterProxy(collecting), data, box);
    expect(box.disowned).toBe(false);
    expect(collecting.written).toEqual([data]);
  });
});
