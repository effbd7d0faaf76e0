/**
 * Time limits on promises, for the waits that must not hang forever (a keepalive answer, a
 * duplicate's ping, the last bookkeeping of a stopping worker). The timer never outlives the wait
 * and never keeps the process alive on its own.
 */

/** Settles as `promise` does, or rejects with `onTimeout()` if it has not settled after `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Waits for `promise` to settle, either way, but no longer than `ms`; never rejects. */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  await withDeadline(promise, ms, () => new Error('deadline passed')).catch(() => undefined);
}
