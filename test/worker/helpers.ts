import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { firstValueFrom, filter, type Observable } from 'rxjs';
import { WorkerSession, type SessionClock, type WorkerSessionNotice, type WorkerSessionOptions } from '../../actors/worker/session.js';
import type { FakeMaster } from './fake-master.js';

export function tempDir(prefix = 'ampstate-worker-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

/** A pino logger whose lines land in an array (parsed), for asserting what the worker logs. */
export function memoryLogger(level = 'info'): { logger: Logger; lines: Array<Record<string, unknown> & { msg: string; level: number }> } {
  const lines: Array<Record<string, unknown> & { msg: string; level: number }> = [];
  const logger = pino({ level }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** Starts a session against a fake master (TCP by default). */
export function startWorker(master: FakeMaster, basedir: string, options: Partial<WorkerSessionOptions> = {}): WorkerSession {
  return new WorkerSession({
    master: master.endpoint,
    name: master.options.name ?? 'w1',
    password: master.options.password ?? 'secret',
    basedir,
    environ: { PATH: process.env.PATH, HOME: process.env.HOME },
    ...options,
  }).start();
}

export function nextNotice<T extends WorkerSessionNotice['type']>(
  notices: Observable<WorkerSessionNotice>,
  type: T,
): Promise<Extract<WorkerSessionNotice, { type: T }>> {
  return firstValueFrom(notices.pipe(filter((notice): notice is Extract<WorkerSessionNotice, { type: T }> => notice.type === type)));
}

export async function waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Whether the process still runs. A zombie counts as dead: it was killed and only waits to be
 * reaped, which an orphan's init (PID 1 of a container) may take a second or more to do.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** A clock whose timers fire only when the test says so. */
export class FakeClock implements SessionClock {
  readonly timers: Array<{ callback: () => void; delayMs: number; cancelled: boolean; fired: boolean }> = [];

  setTimeout(callback: () => void, delayMs: number): unknown {
    const timer = { callback, delayMs, cancelled: false, fired: false };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    (handle as { cancelled: boolean }).cancelled = true;
  }

  get pending(): Array<{ delayMs: number }> {
    return this.timers.filter((timer) => !timer.cancelled && !timer.fired);
  }

  /** Fires the oldest pending timer and returns its delay. */
  fireNext(): number {
    const timer = this.timers.find((candidate) => !candidate.cancelled && !candidate.fired);
    if (timer === undefined) throw new Error('no pending timer');
    timer.fired = true;
    timer.callback();
    return timer.delayMs;
  }
}
