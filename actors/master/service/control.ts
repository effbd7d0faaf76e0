/**
 * `ampstate master start|stop|status|reload` seen from outside the master: starting it as a
 * detached daemon and waiting for its word, signalling it through its pidfile.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MASTER_LOG_FILE, type MasterStartReport } from './run-service.js';
import { processExists, readMasterPidfile, releaseMasterPidfile, type PidfileState } from './pidfile.js';

export type MasterStartOutcome =
  | { readonly ok: true; readonly pid: number; readonly logFile: string; readonly dashboardUrl?: string }
  | { readonly ok: false; readonly message: string };

/** Starts the master of `dir` detached; resolves once it said it started or failed, or exited. */
export async function startMasterDaemon(
  dirArgument: string,
  options: { readonly entryPoint: string; readonly extraArguments?: readonly string[]; readonly timeoutMs?: number },
): Promise<MasterStartOutcome> {
  const dir = resolve(dirArgument);
  const logFile = join(dir, MASTER_LOG_FILE);
  const current = readMasterPidfile(dir);
  if (current.state === 'running') return { ok: false, message: `already running (pid ${current.pid})` };
  const child = spawn(process.execPath, [options.entryPoint, 'master', 'start', '--nodaemon', '--daemon-child', ...(options.extraArguments ?? []), dir], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const outcome = await new Promise<MasterStartOutcome>((settle) => {
    const timer = setTimeout(() => settle({ ok: false, message: `the master (pid ${child.pid}) did not report within ${timeoutMs / 1000} s; see ${logFile}` }), timeoutMs);
    child.once('message', (message: MasterStartReport) => {
      clearTimeout(timer);
      settle(
        message.type === 'started'
          ? { ok: true, pid: message.pid, logFile, ...(message.dashboardUrl !== undefined ? { dashboardUrl: message.dashboardUrl } : {}) }
          : { ok: false, message: message.message },
      );
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      settle({ ok: false, message: `the master exited (${signal ?? `status ${code}`}) before it started; see ${logFile}` });
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      settle({ ok: false, message: `cannot start the master: ${error.message}` });
    });
  });
  if (child.connected) child.disconnect();
  child.unref();
  return outcome;
}

export type MasterStopOutcome =
  | { readonly result: 'not-running' }
  | { readonly result: 'stale'; readonly pid: number }
  | { readonly result: 'stopped'; readonly pid: number; readonly killed: boolean };

/** SIGTERM, then SIGKILL after `timeoutMs`; the pidfile is removed either way. */
export async function stopMasterDaemon(dirArgument: string, options: { timeoutMs?: number } = {}): Promise<MasterStopOutcome> {
  const dir = resolve(dirArgument);
  const current = readMasterPidfile(dir);
  if (current.state === 'absent') return { result: 'not-running' };
  if (current.state === 'stale') {
    releaseMasterPidfile(dir, current.pid);
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
  releaseMasterPidfile(dir, pid);
  return { result: 'stopped', pid, killed };
}

/** Sends SIGHUP (reload the config); returns the pid, or undefined when no master runs. */
export function reloadMasterDaemon(dir: string): number | undefined {
  const current = readMasterPidfile(resolve(dir));
  if (current.state !== 'running') return undefined;
  signal(current.pid, 'SIGHUP');
  return current.pid;
}

export function masterStatus(dir: string): PidfileState {
  return readMasterPidfile(resolve(dir));
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
