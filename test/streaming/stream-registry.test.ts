import { describe, expect, it } from 'vitest';
import { StreamRegistry } from '../../actors/amp/stream-registry.js';
import { StreamFailedError, UnknownStreamError } from '../../codec/errors.js';

/** Whether a promise has settled once pending callbacks have run (no clock involved). */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  return settled;
}

describe('StreamRegistry', () => {
  it('answers a write late while its consumer lags, and as soon as it has read below the mark', async () => {
    const registry = new StreamRegistry({ highWaterMark: 100 });
    const id = registry.open();
    const stream = registry.claim(id);
    expect(registry.write(id, Buffer.alloc(60))).toBeUndefined();
    const credit = registry.write(id, Buffer.alloc(60));
    expect(credit).toBeInstanceOf(Promise);
    expect(await isSettled(credit as Promise<void>)).toBe(false);
    const reader = stream[Symbol.asyncIterator]();
    await reader.next();
    expect(await isSettled(credit as Promise<void>)).toBe(true);
    registry.close(id);
    expect((await reader.next()).value).toHaveLength(60);
    expect((await reader.next()).done).toBe(true);
    expect(registry.size).toBe(0);
  });

  it('keeps trial\'s order: chunks first, then the command takes them all', () => {
    const registry = new StreamRegistry();
    const id = registry.open();
    void registry.write(id, Buffer.from('a'));
    void registry.write(id, Buffer.from('b'));
    expect(registry.take(id).map(String)).toEqual(['a', 'b']);
    expect(() => registry.take(id)).toThrow(UnknownStreamError);
    expect(() => registry.write(id, Buffer.from('c'))).toThrow(UnknownStreamError);
  });

  it('fails the consumer with the sender\'s reason, and every open stream when the connection ends', async () => {
    const registry = new StreamRegistry();
    const first = registry.claim(registry.open());
    registry.close(first.streamId, 'source broke');
    await expect(first.bytes()).rejects.toBeInstanceOf(StreamFailedError);
    const second = registry.claim(registry.open());
    const gone = new Error('connection lost');
    registry.failAll(gone);
    await expect(second.bytes()).rejects.toBe(gone);
  });
});
