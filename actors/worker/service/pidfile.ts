/**
 * `BASEDIR/worker.pid`, twistd.pid's counterpart: written by the running worker, read by
 * `stop`/`status` (the mechanics are actors/service/pidfile.ts's).
 */
import { join } from 'node:path';
import { AmpStateError } from '../../../codec/errors.js';

export const PID_FILE = 'worker.pid';

export class AlreadyRunningError extends AmpStateError {
  override readonly code = 'WORKER_ERR_ALREADY_RUNNING';
}

export function pidfilePath(basedir: string): string {
  return join(basedir, PID_FILE);
}

/** The refusal of a second worker in `basedir` while `pid` runs. */
export function alreadyRunning(basedir: string, pid: number): AlreadyRunningError {
  return new AlreadyRunningError(`a worker is already running in ${basedir} (pid ${pid})`);
}
