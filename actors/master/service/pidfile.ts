/**
 * `DIR/master.pid`: written by the running master, read by `stop`/`status`/`reload`. As the
 * worker's pidfile (actors/worker/service/pidfile.ts), a file whose process is gone is stale.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AmpStateError } from '../../../codec/errors.js';
import { processExists, type PidfileState } from '../../worker/service/pidfile.js';

export { processExists, type PidfileState };

export const MASTER_PID_FILE = 'master.pid';

export class MasterAlreadyRunningError extends AmpStateError {
  override readonly code = 'MASTER_ERR_ALREADY_RUNNING';
}

function pidfilePath(dir: string): string {
  return join(dir, MASTER_PID_FILE);
}

export function readMasterPidfile(dir: string): PidfileState {
  let text: string;
  try {
    text = readFileSync(pidfilePath(dir), 'utf8');
  } catch {
    return { state: 'absent' };
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return { state: 'stale', pid: 0 };
  return processExists(pid) ? { state: 'running', pid } : { state: 'stale', pid };
}

/** Records this process as DIR's master; refuses when another live one holds the file. */
export function claimMasterPidfile(dir: string, onStale: (pid: number) => void): void {
  const current = readMasterPidfile(dir);
  if (current.state === 'running' && current.pid !== process.pid) {
    throw new MasterAlreadyRunningError(`a master is already running in ${dir} (pid ${current.pid})`);
  }
  if (current.state === 'stale') onStale(current.pid);
  writeFileSync(pidfilePath(dir), `${process.pid}\n`);
}

/** Removes the pidfile if it still names `pid`. */
export function releaseMasterPidfile(dir: string, pid: number = process.pid): void {
  const current = readMasterPidfile(dir);
  if (current.state !== 'absent' && current.pid !== pid && current.pid !== 0) return;
  rmSync(pidfilePath(dir), { force: true });
}
