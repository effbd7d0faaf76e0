/**
 * A service's pidfile (twistd.pid's counterpart): written by the running daemon, read by
 * `stop`/`status`/`reload`. A pidfile whose process is gone (a SIGKILLed daemon, a reboot) is stale.
 * Each service names its file and its refusal; the mechanics are the same for all.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

export type PidfileState =
  | { readonly state: 'running'; readonly pid: number }
  | { readonly state: 'stale'; readonly pid: number }
  | { readonly state: 'absent' };

/**
 * Whether a process with this pid is alive (EPERM: it is, as another user's). A zombie is not: a
 * daemon's parent is init, which in a container may never reap it.
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

export function readPidfileAt(path: string): PidfileState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { state: 'absent' };
  }
  const pid = Number(text.trim());
  // Unreadable content counts as stale: nothing can be signalled through it.
  if (!Number.isInteger(pid) || pid <= 0) return { state: 'stale', pid: 0 };
  return processExists(pid) ? { state: 'running', pid } : { state: 'stale', pid };
}

/**
 * Records this process in the pidfile. Throws `refusal(pid)` when another live process holds it;
 * replaces a stale one and says so through `onStale`.
 */
export function claimPidfileAt(path: string, refusal: (pid: number) => Error, onStale: (pid: number) => void): void {
  const current = readPidfileAt(path);
  if (current.state === 'running' && current.pid !== process.pid) throw refusal(current.pid);
  if (current.state === 'stale') onStale(current.pid);
  writeFileSync(path, `${process.pid}\n`);
}

/** Removes the pidfile if it still names `pid` (a newer daemon's file is left alone). */
export function releasePidfileAt(path: string, pid: number = process.pid): void {
  const current = readPidfileAt(path);
  if (current.state !== 'absent' && current.pid !== pid && current.pid !== 0) return;
  rmSync(path, { force: true });
}
