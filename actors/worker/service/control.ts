/**
 * `ampstate worker start|stop|status` seen from outside the worker: starting it as a detached
 * daemon and waiting for its word, stopping it through its pidfile, reporting its state. The worker
 * itself runs in {@link runWorkerService} (see docs/worker-service.md).
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOG_FILE, type StartReport } from './run-service.js';
import { processExists, readPidfile, releasePidfile, type PidfileState } from './pidfile.js';

export interface StartDaemonOptions {
  /** The script that runs the CLI (`bin/ampstate.js`), started again as the daemon. */
  readonly entryPoint: string;
  /** Extra arguments for the daemon's `worker start` (log level, tracing). */
  readonly extraArguments?: readonly string[];
  /** How long to wait for the worker's word (default 30 s). */
  readonly timeoutMs?: number;
}

export type StartOutcome =
  | { readonly ok: true; readonly pid: number; readonly logFile: string }
  | { readonly ok: false; readonly message: string };

/**
 * Starts the worker of `basedir` detached from this process (its own session, no terminal), and
 * resolves once it reported that it started or failed, or exited without a word.
 */
export async function startDaemon(basedirArgument: string, options: StartDaemonOptions): Promise<StartOutcome> {
  const basedir = resolve(basedirArgument);
  const logFile = join(basedir, LOG_FILE);
  const current = readPidfile(basedir);
  if (current.state === 'running') return { ok: false, message: `already running (pid ${current.pid})` };
  const child = spawn(
    process.execPath,
    [options.entryPoint, 'worker', 'start', '--nodaemon', '--daemon-child', ...(options.extraArguments ?? []), basedir],
    { cwd: basedir, detached: true, stdio: ['ignore', 'ignore', 'ignore', 'ipc'] },
  );
  const timeoutMs = options.timeoutMs ?? 30_000;
  const outcome = await new Promise<StartOutcome>((settle) => {
    const timer = setTimeout(
      () => settle({ ok: false, message: `the worker (pid ${child.pid}) did not report within ${timeoutMs / 1000} s; it may still be starting, see ${logFile}` }),
      timeoutMs,
    );
    child.once('message', (message: StartReport) => {
      clearTimeout(timer);
      settle(message.type === 'started' ? { ok: true, pid: message.pid, logFile } : { ok: false, message: message.message });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      settle({ ok: false, message: `the worker exited (${signal ?? `status ${code}`}) before it started; see ${logFile}` });
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      settle({ ok: false, message: `cannot start the worker: ${error.message}` });
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

/**
 * SIGTERM (the worker kills its commands' process groups and logs out), then after `timeoutMs`
 * SIGKILL; the pidfile is removed either way.
 */
export async function stopDaemon(basedirArgument: string, options: { timeoutMs?: number } = {}): Promise<StopOutcome> {
  const basedir = resolve(basedirArgument);
  const current = readPidfile(basedir);
  if (current.state === 'absent') return { result: 'not-running' };
  if (current.state === 'stale') {
    releasePidfile(basedir, current.pid);
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
  releasePidfile(basedir, pid);
  return { result: 'stopped', pid, killed };
}

export function daemonStatus(basedir: string): PidfileState {
  return readPidfile(resolve(basedir));
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
