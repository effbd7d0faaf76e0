/**
 * `DIR/master.pid`: written by the running master, read by `stop`/`status`/`reload` (the
 * mechanics, stale files included, are actors/service/pidfile.ts's).
 */
import { join } from 'node:path';
import { AmpStateError } from '../../../codec/errors.js';

export { processExists, type PidfileState } from '../../service/pidfile.js';

export const MASTER_PID_FILE = 'master.pid';

export class MasterAlreadyRunningError extends AmpStateError {
  override readonly code = 'MASTER_ERR_ALREADY_RUNNING';
}

export function masterPidfilePath(dir: string): string {
  return join(dir, MASTER_PID_FILE);
}

/** The refusal of a second master in `dir` while `pid` runs. */
export function masterAlreadyRunning(dir: string, pid: number): MasterAlreadyRunningError {
  return new MasterAlreadyRunningError(`a master is already running in ${dir} (pid ${pid})`);
}
