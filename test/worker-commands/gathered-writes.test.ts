import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatheredWrites } from '../../actors/worker/commands/gathered-writes.js';

/** A disk that finishes each write only when the test says so. */
function slowDisk() {
  const batches: Buffer[][] = [];
  const finish: Array<(error?: Error) => void> = [];
  const write = (blocks: Buffer[]) =>
    new Promise<void>((resolve, reject) => {
      batches.push(blocks);
      finish.push((error) => (error === undefined ? resolve() : reject(error)));
    });
  return { batches, finish, write };
}

describe('GatheredWrites', () => {
  it('writes what arrives during a write as one batch, in order', async () => {
    const disk = slowDisk();
    const writes = new GatheredWrites(disk.write);
    await writes.push(Buffer.from('a'));
    await writes.push(Buffer.from('b'));
    await writes.push(Buffer.from('c'));
    expect(disk.batches.map((batch) => Buffer.concat(batch).toString())).toEqual(['a']);
    disk.finish.shift()!();
    const flushed = writes.flush();
    await new Promise((resolve) => setImmediate(resolve));
    expect(disk.batches.map((batch) => Buffer.concat(batch).toString())).toEqual(['a', 'bc']);
    disk.finish.shift()!();
    await flushed;
  });

  it('makes the pusher wait once `limit` bytes are waiting', async () => {
    const disk = slowDisk();
    const writes = new GatheredWrites(disk.write, 4);
    await writes.push(Buffer.alloc(1));
    await writes.push(Buffer.alloc(2));
    let pushed = false;
    const full = writes.push(Buffer.alloc(2)).then(() => (pushed = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(pushed).toBe(false);
    disk.finish.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    disk.finish.shift()!();
    await full;
    expect(pushed).toBe(true);
  });

  it('reports a failed write at the next push and at flush', async () => {
    const disk = slowDisk();
    const writes = new GatheredWrites(disk.write);
    await writes.push(Buffer.from('a'));
    disk.finish.shift()!(new Error('ENOSPC'));
    await writes.settled();
    await expect(writes.push(Buffer.from('b'))).rejects.toThrow('ENOSPC');
    await expect(writes.flush()).rejects.toThrow('ENOSPC');
  });

  it('hands every byte to the disk once, in order, whatever the timing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.uint8Array({ maxLength: 20 }), fc.boolean()), { maxLength: 30 }), async (steps) => {
        const written: Buffer[] = [];
        const writes = new GatheredWrites(async (blocks) => {
          await Promise.resolve();
          written.push(...blocks);
        }, 50);
        for (const [bytes, yieldAfter] of steps) {
          await writes.push(Buffer.from(bytes));
          if (yieldAfter) await new Promise((resolve) => setImmediate(resolve));
        }
        await writes.flush();
        expect(Buffer.concat(written)).toEqual(Buffer.concat(steps.map(([bytes]) => Buffer.from(bytes))));
      }),
    );
  });
});
