/**
 * `ampstate worker start|stop|status` seen from outside the worker, through the daemon mechanics
 * of actors/service/daemon-control.ts. The worker itself runs in {@link runWorkerService} (see
 * docs/worker-service.md).
 */
import { join, resolve } from 'node:path';
import { startDetachedDaemon, stopDaemonAt, type DaemonSpec, type StartDaemonOptions, type StopOutcome } from '../../service/daemon-control.js';
import { readPidfileAt, type PidfileState } from '../../service/pidfile.js';
import { LOG_FILE, type StartReport } from './run-service.js';
import { pidfilePath } from './pidfile.js';

export type { StartDaemonOptions, StopOutcome };

export type StartOutcome =
  | { readonly ok: true; readonly pid: number; readonly logFile: string }
  | { readonly ok: false; readonly message: string };

function workerDaemon(basedirArgument: string): DaemonSpec {
  const basedir = resolve(basedirArgument);
  return { role: 'worker', dir: basedir, pidfile: pidfilePath(basedir), logFile: join(basedir, LOG_FILE) };
}

/** Starts the worker of `basedir` detached; resolves once it reported, or exited without a word. */
export async function startDaemon(basedir: string, options: StartDaemonOptions): Promise<StartOutcome> {
  const outcome = await startDetachedDaemon<StartReport>(workerDaemon(basedir), options);
  return outcome.ok ? { ok: true, pid: outcome.report.pid, logFile: outcome.logFile } : outcome;
}

/**
 * SIGTERM (the worker kills its commands' process groups and logs out), then after `timeoutMs`
 * SIGKILL; the pidfile is removed either way.
 */
export function stopDaemon(basedir: string, options: { timeoutMs?: number } = {}): Promise<StopOutcome> {
  return stopDaemonAt(workerDaemon(basedir).pidfile, options);
}

export function daemonStatus(basedir: string): PidfileState {
  return readPidfileAt(workerDaemon(basedir).pidfile);
}
