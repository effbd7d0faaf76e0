/**
 * Login throttling, the same for every listener (AMP Login, msgpack's Basic auth upgrade): after a
 * few failed logins from one address, or for one worker name, each further answer is held back,
 * twice as long after each failure, up to a bound. Attempts made in parallel queue one behind the
 * other; one that would have to wait past the bound is refused at once without its password being
 * looked at. Failures are forgotten some time after the last one, and only so many addresses and
 * names are tracked (the least recently failing are forgotten first), so memory stays bounded.
 *
 * Keying by name as well as by address stops a guesser spread over many addresses; the price is
 * that such a guesser slows the real worker's logins too (by at most `maxDelayMs` per attempt).
 * The throttle holds no timers: the listener waits, the throttle only decides how long.
 */

export const DEFAULT_LOGIN_FAILURES_BEFORE_DELAY = 5;
export const DEFAULT_LOGIN_BASE_DELAY_MS = 1_000;
export const DEFAULT_LOGIN_MAX_DELAY_MS = 30_000;
export const DEFAULT_LOGIN_FORGET_AFTER_MS = 15 * 60_000;
export const DEFAULT_LOGIN_TRACKED_KEYS = 10_000;

export interface LoginThrottleOptions {
  /**
   * Failed logins (per address, per worker name) after which the next answers are held back.
   * Default 5; `Infinity` disables throttling.
   */
  readonly failuresBeforeDelay?: number;
  /** The delay after the first failure past those; it doubles with each further one. Default 1 s. */
  readonly baseDelayMs?: number;
  /** The longest an answer is held back; a login that would wait longer is refused at once. Default 30 s. */
  readonly maxDelayMs?: number;
  /** Failures are forgotten this long after the last one. Default 15 min. */
  readonly forgetAfterMs?: number;
  /** Addresses and names tracked at most. Default 10,000. */
  readonly maxTrackedKeys?: number;
}

/** What the throttle decided for one login, before its credentials are checked. */
export type LoginTicket = { readonly refused: false; readonly delayMs: number } | { readonly refused: true };

interface Entry {
  failures: number;
  lastFailure: number;
  /** When the next attempt for this key may be answered (attempts queue behind each other). */
  nextSlot: number;
}

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly failuresBeforeDelay: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly forgetAfterMs: number;
  private readonly maxTrackedKeys: number;

  constructor(
    options: LoginThrottleOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.failuresBeforeDelay = options.failuresBeforeDelay ?? DEFAULT_LOGIN_FAILURES_BEFORE_DELAY;
    this.baseDelayMs = options.baseDelayMs ?? DEFAULT_LOGIN_BASE_DELAY_MS;
    this.maxDelayMs = options.maxDelayMs ?? DEFAULT_LOGIN_MAX_DELAY_MS;
    this.forgetAfterMs = options.forgetAfterMs ?? DEFAULT_LOGIN_FORGET_AFTER_MS;
    this.maxTrackedKeys = Math.max(1, options.maxTrackedKeys ?? DEFAULT_LOGIN_TRACKED_KEYS);
  }

  /** How many addresses and names are tracked now. */
  get trackedKeys(): number {
    return this.entries.size;
  }

  /** Before the credentials are checked: how long to hold the answer, or refused outright. */
  admit(host: string | undefined, name: string): LoginTicket {
    const now = this.now();
    const throttled: Entry[] = [];
    let delayMs = 0;
    for (const key of keys(host, name)) {
      const entry = this.current(key, now);
      if (entry === undefined || this.backoff(entry.failures) === 0) continue;
      throttled.push(entry);
      delayMs = Math.max(delayMs, entry.nextSlot - now);
    }
    if (delayMs > this.maxDelayMs) return { refused: true };
    // The next attempt queues behind this one.
    for (const entry of throttled) entry.nextSlot = now + delayMs + this.backoff(entry.failures);
    return { refused: false, delayMs };
  }

  /** The credentials were wrong (or the name unknown). */
  failed(host: string | undefined, name: string): void {
    const now = this.now();
    for (const key of keys(host, name)) {
      const entry = this.current(key, now) ?? { failures: 0, lastFailure: now, nextSlot: now };
      entry.failures += 1;
      entry.lastFailure = now;
      entry.nextSlot = Math.max(entry.nextSlot, now + this.backoff(entry.failures));
      // Re-inserted so the map's order is least recently failing first.
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxTrackedKeys) break;
      this.entries.delete(oldest);
    }
  }

  /** The credentials were right: the address and the name start afresh. */
  succeeded(host: string | undefined, name: string): void {
    for (const key of keys(host, name)) this.entries.delete(key);
  }

  /** The delay that `failures` failures earn the next attempt. */
  private backoff(failures: number): number {
    const excess = failures - this.failuresBeforeDelay;
    if (!(excess >= 0)) return 0;
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(excess, 52));
  }

  private current(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined && now - entry.lastFailure > this.forgetAfterMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}

/** An address and a name never collide: each kind has its own prefix. */
function keys(host: string | undefined, name: string): string[] {
  return host === undefined ? [`name ${name}`] : [`host ${host}`, `name ${name}`];
}
