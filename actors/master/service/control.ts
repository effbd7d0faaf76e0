/**
 * `ampstate master start|stop|status|reload` seen from outside the master, through the daemon
 * mechanics of actors/service/daemon-control.ts.
 */
import { join, resolve } from 'node:path';
import { signalDaemonAt, startDetachedDaemon, stopDaemonAt, type DaemonSpec, type StartDaemonOptions, type StopOutcome } from '../../service/daemon-control.js';
import { readPidfileAt, type PidfileState } from '../../service/pidfile.js';
import { MASTER_LOG_FILE, type MasterStartReport } from './run-service.js';
import { masterPidfilePath } from './pidfile.js';

export type MasterStartOutcome =
  | { readonly ok: true; readonly pid: number; readonly logFile: string; readonly dashboardUrl?: string }
  | { readonly ok: false; readonly message: string };

export type MasterStopOutcome = StopOutcome;

function masterDaemon(dirArgument: string): DaemonSpec {
  const dir = resolve(dirArgument);
  return { role: 'master', dir, pidfile: masterPidfilePath(dir), logFile: join(dir, MASTER_LOG_FILE) };
}

/** Starts the master of `dir` detached; resolves once it said it started or failed, or exited. */
export async function startMasterDaemon(dir: string, options: StartDaemonOptions): Promise<MasterStartOutcome> {
  const outcome = await startDetachedDaemon<MasterStartReport>(masterDaemon(dir), options);
  if (!outcome.ok) return outcome;
  const { pid, dashboardUrl } = outcome.report;
  return { ok: true, pid, logFile: outcome.logFile, ...(dashboardUrl !== undefined ? { dashboardUrl } : {}) };
}

/** SIGTERM, then SIGKILL after `timeoutMs`; the pidfile is removed either way. */
export function stopMasterDaemon(dir: string, options: { timeoutMs?: number } = {}): Promise<MasterStopOutcome> {
  return stopDaemonAt(masterDaemon(dir).pidfile, options);
}

/** Sends SIGHUP (reload the config); returns the pid, or undefined when no master runs. */
export function reloadMasterDaemon(dir: string): number | undefined {
  return signalDaemonAt(masterDaemon(dir).pidfile, 'SIGHUP');
}

export function masterStatus(dir: string): PidfileState {
  return readPidfileAt(masterDaemon(dir).pidfile);
}
