/**
 * `ampstate worker|master start|stop|status|reload` seen from outside the service: starting it as
 * a detached daemon and waiting for its word, signalling it through its pidfile. What the daemon
 * itself does is each service's run-service.ts; the word it sends is start-report.ts's.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { processExists, readPidfileAt, releasePidfileAt } from './pidfile.js';
import type { ServiceStartReport } from './start-report.js';

export interface DaemonSpec {
  /** The CLI command of the service (`worker`, `master`): also how messages name it. */
  readonly role: string;
  /** The service directory, absolute. */
  readonly dir: string;
  readonly pidfile: string;
  readonly logFile: string;
}

export interface StartDaemonOptions {
  /** The script that runs the CLI (`bin/ampstate.js`), started again as the daemon. */
  readonly entryPoint: string;
  /** Extra arguments for the daemon's `start --nodaemon` (log level, tracing). */
  readonly extraArguments?: readonly string[];
  /** How long to wait for the daemon's word (default 30 s). */
  readonly timeoutMs?: number;
}

export type DaemonStartOutcome<Report extends ServiceStartReport> =
  | { readonly ok: true; readonly report: Extract<Report, { type: 'started' }>; readonly logFile: string }
  | { readonly ok: false; readonly message: string };

/**
 * Starts the service detached from this process (its own session, no terminal), and resolves once
 * it reported that it started or failed, or exited without a word.
 */
export async function startDetachedDaemon<Report extends ServiceStartReport>(spec: DaemonSpec, options: StartDaemonOptions): Promise<DaemonStartOutcome<Report>> {
  const { role, dir, logFile } = spec;
  const current = readPidfileAt(spec.pidfile);
  if (current.state === 'running') return { ok: false, message: `already running (pid ${current.pid})` };
  // Node's own options carry over, as child_process.fork does (`node --max-semi-space-size=1 …`).
  const child = spawn(process.execPath, [...process.execArgv, options.entryPoint, role, 'start', '--nodaemon', '--daemon-child', ...(options.extraArguments ?? []), dir], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const outcome = await new Promise<DaemonStartOutcome<Report>>((settle) => {
    const timer = setTimeout(
      () => settle({ ok: false, message: `the ${role} (pid ${child.pid}) did not report within ${timeoutMs / 1000} s; it may still be starting, see ${logFile}` }),
      timeoutMs,
    );
    child.once('message', (message: Report) => {
      clearTimeout(timer);
      settle(message.type === 'started' ? { ok: true, report: message as Extract<Report, { type: 'started' }>, logFile } : { ok: false, message: message.message });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      settle({ ok: false, message: `the ${role} exited (${signal ?? `status ${code}`}) before it started; see ${logFile}` });
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      settle({ ok: false, message: `cannot start the ${role}: ${error.message}` });
    });
  });
  if (child.connected) child.disconnect();
  child.unref();
  return outcome;
}

export type StopOutcome =
  | { readonly result: 'not-running' }
  | { readonly result: 'stale'; readonly pid: number }
  | { readonly result: 'stopped'; readonly pid: number; readonly killed: boolean };

/** SIGTERM, then SIGKILL after `timeoutMs` (default 10 s); the pidfile is removed either way. */
export async function stopDaemonAt(pidfile: string, options: { timeoutMs?: number } = {}): Promise<StopOutcome> {
  const current = readPidfileAt(pidfile);
  if (current.state === 'absent') return { result: 'not-running' };
  if (current.state === 'stale') {
    releasePidfileAt(pidfile, current.pid);
    return { result: 'stale', pid: current.pid };
  }
  const { pid } = current;
  signal(pid, 'SIGTERM');
  let killed = false;
  if (!(await waitGone(pid, options.timeoutMs ?? 10_000))) {
    killed = true;
    signal(pid, 'SIGKILL');
    await waitGone(pid, 5000);
  }
  releasePidfileAt(pidfile, pid);
  return { result: 'stopped', pid, killed };
}

/** Sends `name` to the running daemon; returns its pid, or undefined when none runs. */
export function signalDaemonAt(pidfile: string, name: NodeJS.Signals): number | undefined {
  const current = readPidfileAt(pidfile);
  if (current.state !== 'running') return undefined;
  signal(current.pid, name);
  return current.pid;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processExists(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}
