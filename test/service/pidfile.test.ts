import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AmpStateError } from '../../codec/errors.js';
import { claimPidfileAt, readPidfileAt, releasePidfileAt } from '../../actors/service/pidfile.js';
import { temporaryDirectory } from '../support/temp-directory.js';

class HeldError extends AmpStateError {
  override readonly code = 'TEST_ERR_HELD';
}

/** The pid of a process that has exited and been reaped. */
function goneProcess(): number {
  return spawnSync(process.execPath, ['-e', '']).pid;
}

function freshPidfile(): string {
  return join(temporaryDirectory('ampstate-pidfile-'), 'service.pid');
}

describe('a service pidfile', () => {
  it('is absent, then names this process once claimed, and is gone once released', () => {
    const path = freshPidfile();
    expect(readPidfileAt(path)).toEqual({ state: 'absent' });
    claimPidfileAt(path, () => new HeldError('held'), () => {});
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    expect(readPidfileAt(path)).toEqual({ state: 'running', pid: process.pid });
    releasePidfileAt(path);
    expect(existsSync(path)).toBe(false);
  });

  it("refuses with the caller's error while another live process holds it", () => {
    const path = freshPidfile();
    writeFileSync(path, `${process.ppid}\n`);
    expect(() => claimPidfileAt(path, (pid) => new HeldError(`held by ${pid}`), () => {})).toThrow(new HeldError(`held by ${process.ppid}`));
    expect(readFileSync(path, 'utf8')).toBe(`${process.ppid}\n`);
  });

  it("replaces a dead process's file, saying so, and counts unreadable content as stale", () => {
    const path = freshPidfile();
    const gone = goneProcess();
    writeFileSync(path, `${gone}\n`);
    const stale: number[] = [];
    claimPidfileAt(path, () => new HeldError('held'), (pid) => stale.push(pid));
    expect(stale).toEqual([gone]);
    expect(readPidfileAt(path)).toEqual({ state: 'running', pid: process.pid });
    writeFileSync(path, 'not a pid\n');
    expect(readPidfileAt(path)).toEqual({ state: 'stale', pid: 0 });
  });

  it("leaves a newer process's file alone on release", () => {
    const path = freshPidfile();
    writeFileSync(path, `${process.ppid}\n`);
    releasePidfileAt(path);
    expect(readPidfileAt(path)).toEqual({ state: 'running', pid: process.ppid });
  });
});
