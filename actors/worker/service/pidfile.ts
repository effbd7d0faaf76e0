/**
 * `BASEDIR/worker.pid`, twistd.pid's counterpart: written by the running worker, read by
 * `stop`/`status`. A pidfile whose process is gone (a SIGKILLed worker, a reboot) is stale.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AmpStateError } from '../../../codec/errors.js';

export const PID_FILE = 'worker.pid';

export type PidfileState =
  | { readonly state: 'running'; readonly pid: number }
  | { readonly state: 'stale'; readonly pid: number }
  | { readonly state: 'absent' };

export class AlreadyRunningError extends AmpStateError {
  override readonly code = 'WORKER_ERR_ALREADY_RUNNING';
}

export function pidfilePath(basedir: string): string {
  return join(basedir, PID_FILE);
}

/**
 * Whether a process with this pid is alive (EPERM: it is, as another user's). A zombie is not: a
 * daemonized worker's parent is init, which in a container may never reap it.
 */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // No /proc (macOS): signal 0 is all there is to go on.
    return true;
  }
}

export function readPidfile(basedir: string): PidfileState {
  let text: string;
  try {
    text = readFileSync(pidfilePath(basedir), 'utf8');
  } catch {
    return { state: 'absent' };
  }
  const pid = Number(text.trim());
  // Unreadable content counts as stale: nothing can be signalled through it.
  if (!Number.isInteger(pid) || pid <= 0) return { state: 'stale', pid: 0 };
  return processExists(pid) ? { state: 'running', pid } : { state: 'stale', pid };
}

/**
 * Records this process as the basedir's worker. Refuses when another live worker holds the
 * pidfile; replaces a stale one and says so through `onStale`.
 */
export function claimPidfile(basedir: string, onStale: (pid: number) => void): void {
  const current = readPidfile(basedir);
  if (current.state === 'running' && current.pid !== process.pid) {
    throw new AlreadyRunningError(`a worker is already running in ${basedir} (pid ${current.pid})`);
  }
  if (current.state === 'stale') onStale(current.pid);
  writeFileSync(pidfilePath(basedir), `${process.pid}\n`);
}

/** Removes the pidfile if it still names `pid` (a newer worker's file is left alone). */
export function releasePidfile(basedir: string, pid: number = process.pid): void {
  const current = readPidfile(basedir);
  if (current.state !== 'absent' && current.pid !== pid && current.pid !== 0) return;
  rmSync(pidfilePath(basedir), { force: true });
}
