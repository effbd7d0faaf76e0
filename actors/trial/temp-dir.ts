import { existsSync, mkdirSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { NoTrialMarkerError, WorkingDirectoryBusyError } from './errors.js';

/**
 * trial's `_unusedTestDirectory` (docs/trial-protocol.md §1.2): lock `<dir>.lock` the way Twisted's FilesystemLock does
 * (a symlink whose target is the owner's pid, stale when that process is gone), fall back to
 * `_trial_temp-1`, `-2`, … while the default name is locked, wipe the directory (only if it holds a
 * `_trial_marker`) and drop an empty `_trial_marker` into the new one.
 */
export interface TrialTempDirectory {
  readonly path: string;
  release(): void;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryLock(lockPath: string): boolean {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      symlinkSync(String(process.pid), lockPath);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let owner: number;
    try {
      owner = Number(readlinkSync(lockPath));
    } catch {
      continue; // released meanwhile
    }
    if (Number.isInteger(owner) && owner > 0 && processAlive(owner)) return false;
    try {
      unlinkSync(lockPath); // stale lock of a dead process
    } catch {
      /* someone else cleaned it */
    }
  }
  return false;
}

export function claimTrialTemp(base = '_trial_temp', cwd = process.cwd()): TrialTempDirectory {
  const basePath = resolve(cwd, base);
  const suffixes = basename(basePath) === '_trial_temp';
  for (let counter = 0; ; counter++) {
    const path = counter === 0 ? basePath : join(dirname(basePath), `${basename(basePath)}-${counter}`);
    const lockPath = `${path}.lock`;
    if (!tryLock(lockPath)) {
      if (suffixes) continue;
      throw new WorkingDirectoryBusyError(`${path} is in use by another trial run`);
    }
    try {
      if (existsSync(path)) {
        if (!existsSync(join(path, '_trial_marker'))) {
          throw new NoTrialMarkerError(`${path} is not a trial temporary path, refusing to remove it`);
        }
        rmSync(path, { recursive: true, force: true });
      }
      mkdirSync(path, { recursive: true });
      writeFileSync(join(path, '_trial_marker'), '');
    } catch (error) {
      unlinkSync(lockPath);
      throw error;
    }
    let released = false;
    return {
      path,
      release: () => {
        if (released) return;
        released = true;
        try {
          unlinkSync(lockPath);
        } catch {
          /* already gone */
        }
      },
    };
  }
}
