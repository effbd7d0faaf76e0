/**
 * Test support for the master/worker model tests: an in-memory duplex pair whose first end closes
 * only when the test says so (as if the OS delivered the close later), and a deferred promise.
 */
import type { Duplex } from 'node:stream';
import { createMemoryPair } from '../../actors/memory-pair.js';

export interface GatedPair {
  /** The end under test: `destroy()` on it starts the close, `release()` lets it finish. */
  readonly near: Duplex;
  readonly far: Duplex;
  /** Whether a destroy (by anyone) is waiting for `release()`. */
  readonly closeHeld: () => boolean;
  /** Lets a held close (and any later one) complete. */
  release(): void;
}

export function gatedMemoryPair(): GatedPair {
  const [near, far] = createMemoryPair();
  let released = false;
  let held: (() => void) | undefined;
  const original = near._destroy.bind(near);
  near._destroy = (error, callback) => {
    const finish = () => original(error, callback);
    if (released) finish();
    else held = finish;
  };
  return {
    near,
    far,
    closeHeld: () => held !== undefined,
    release: () => {
      released = true;
      const finish = held;
      held = undefined;
      finish?.();
    },
  };
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
  settled: boolean;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const result: Deferred<T> = {
    promise,
    settled: false,
    resolve: (value) => {
      result.settled = true;
      resolve(value);
    },
    reject: (error) => {
      result.settled = true;
      reject(error);
    },
  };
  return result;
}
