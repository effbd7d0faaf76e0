import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls until `probe` returns something other than undefined. Waiting on a condition, never on a
 * clock: the timeout only bounds a hang, and the error names what was awaited.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
