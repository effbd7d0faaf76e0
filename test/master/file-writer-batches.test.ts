import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TransferStateError } from '../../actors/master/errors.js';
import { FileWriter } from '../../actors/master/file-writer.js';
import { writeAll } from '../../actors/write-blocks.js';
import { temporaryDirectory } from '../support/temp-directory.js';

/** Writes arriving while the file is busy (a transfer window's worth) are written as one batch. */
describe('FileWriter batches', () => {
  it('writes the blocks of one window together: one progress event and one machine event for them all', async () => {
    const base = temporaryDirectory('ampstate-writer-batches-');
    const writer = new FileWriter({ destination: 'out.bin', masterBasedir: base });
    const progress: number[] = [];
    writer.progress$.subscribe(({ bytes }) => progress.push(bytes));
    const blocks = Array.from({ length: 16 }, (_, i) => Buffer.alloc(1000, i));
    await Promise.all(blocks.map((block) => writer.write(block)));
    expect(progress).toEqual([16_000]);
    expect(writer.actor.getSnapshot().context.blocks).toBe(16);
    expect(writer.actor.getSnapshot().context.bytes).toBe(16_000);
    await writer.close();
    expect(readFileSync(join(base, 'out.bin'))).toEqual(Buffer.concat(blocks));
  });

  it('never lets a write overtake a close queued before it', async () => {
    const base = temporaryDirectory('ampstate-writer-batches-');
    const writer = new FileWriter({ destination: 'out.bin', masterBasedir: base });
    const first = writer.write(Buffer.from('kept'));
    const closed = writer.close();
    const late = writer.write(Buffer.from('late'));
    await first;
    await closed;
    await expect(late).rejects.toBeInstanceOf(TransferStateError);
    expect(readFileSync(join(base, 'out.bin'), 'utf8')).toBe('kept');
  });

  it('keeps the bytes in order and cuts at maxsize whatever the batches', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }), { maxLength: 5 }),
        fc.option(fc.nat({ max: 3000 }), { nil: null }),
        async (windows, maxsize) => {
          const base = temporaryDirectory('ampstate-writer-batches-');
          const writer = new FileWriter({ destination: 'out.bin', masterBasedir: base, maxsize });
          // Each inner array arrives in one tick (one batch at most), the next after it is written.
          for (const window of windows) await Promise.all(window.map((block) => writer.write(block)));
          await writer.close();
          const all = Buffer.concat(windows.flat());
          const expected = maxsize === null ? all : all.subarray(0, maxsize);
          expect(readFileSync(join(base, 'out.bin'))).toEqual(expected);
          expect(writer.bytesWritten).toBe(expected.length);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('finishes a batch the kernel writes only in part', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 8 }), fc.integer({ min: 1, max: 40 }), async (blocks, most) => {
        const file: Buffer[] = [];
        // A handle whose writev takes at most `most` bytes a call, as a full disk or a signal may.
        const handle = {
          writev: (buffers: Buffer[]) => {
            const taken = Buffer.concat(buffers).subarray(0, most);
            file.push(taken);
            return Promise.resolve({ bytesWritten: taken.length, buffers });
          },
        } as unknown as Parameters<typeof writeAll>[0];
        const buffers = blocks.map((block) => Buffer.from(block));
        expect(await writeAll(handle, buffers)).toBe(Buffer.concat(buffers).length);
        expect(Buffer.concat(file)).toEqual(Buffer.concat(buffers));
      }),
    );
  });
});
