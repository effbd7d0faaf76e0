/**
 * What a worker killed with SIGKILL leaves, and what the next one does about it at startup: the
 * process groups its commands started are killed (never a pid that now names another process),
 * and its temp files are removed (never a live transfer's).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ownedTempName } from '../../actors/owned-temp-files.js';
import { processGroupMembers, startTimeOf } from '../../actors/process-identity.js';
import { DOWNLOAD_TEMP_PREFIX } from '../../actors/worker/commands/download-file.js';
import { RunProcess } from '../../actors/worker/commands/run-process.js';
import { UPLOAD_ARCHIVE_PREFIX } from '../../actors/worker/commands/upload-directory.js';
import { PROCESS_GROUPS_FILE, ProcessGroupLedger } from '../../actors/worker/process-group-ledger.js';
import { sweepStaleTempFiles } from '../../actors/worker/stale-temp-files.js';
import { temporaryDirectory } from '../support/temp-directory.js';
import { memoryLogger, waitFor } from './helpers.js';

const started: number[] = [];

afterEach(() => {
  for (const pgid of started.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone: what the test wanted.
    }
  }
});

/** A process group that outlives its starter, as a SIGKILLed worker's command does: `sh` and a `sleep` child. */
function strayGroup(): number {
  const child = spawn('/bin/sh', ['-c', 'sleep 60 & wait'], { detached: true, stdio: 'ignore' });
  child.unref();
  const pgid = child.pid as number;
  started.push(pgid);
  return pgid;
}

function writeLedger(basedir: string, groups: readonly object[]): void {
  writeFileSync(join(basedir, PROCESS_GROUPS_FILE), JSON.stringify({ groups }));
}

function deadPid(): number {
  return Number(String(spawnSync('/bin/sh', ['-c', 'echo $$']).stdout).trim());
}

describe('ProcessGroupLedger.open', () => {
  it('kills the groups a previous run left running, logs each, and starts an empty list', async () => {
    const basedir = temporaryDirectory('ampstate-reap-');
    const pgid = strayGroup();
    await waitFor(() => processGroupMembers(pgid).length === 2, 5000, 'sh and sleep to run');
    const startTime = startTimeOf(pgid);
    writeLedger(basedir, [{ pgid, startTime, command: 'sleep 60 & wait' }, { pgid: deadPid(), startTime: 1, command: 'gone' }]);
    const { logger, lines } = memoryLogger();
    const { ledger, reaped } = await ProcessGroupLedger.open(basedir, logger);
    expect(reaped).toEqual([{ pgid, startTime, command: 'sleep 60 & wait', processes: 2 }]);
    await waitFor(() => processGroupMembers(pgid).length === 0, 5000, 'the group to die');
    expect(lines.filter((line) => line.msg.includes(`killed process group ${pgid}`))).toHaveLength(1);
    expect(JSON.parse(readFileSync(ledger.path, 'utf8'))).toEqual({ groups: [] });
  });

  it('leaves a group alone when its leader’s pid now names a younger process', async () => {
    const basedir = temporaryDirectory('ampstate-reap-');
    const pgid = strayGroup();
    await waitFor(() => processGroupMembers(pgid).length === 2, 5000, 'sh and sleep to run');
    writeLedger(basedir, [{ pgid, startTime: startTimeOf(pgid) - 1, command: 'an older process with the same pid' }]);
    const { reaped } = await ProcessGroupLedger.open(basedir);
    expect(reaped).toEqual([]);
    expect(processGroupMembers(pgid)).toHaveLength(2);
  });

  it('reaps a group whose leader died but whose children run on', async () => {
    const basedir = temporaryDirectory('ampstate-reap-');
    const child = spawn('/bin/sh', ['-c', 'sleep 60 & echo $!'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    const pgid = child.pid as number;
    started.push(pgid);
    const startTime = startTimeOf(pgid);
    await new Promise((resolve) => child.once('exit', resolve));
    await waitFor(() => processGroupMembers(pgid).length === 1, 5000, 'only the sleep to be left');
    writeLedger(basedir, [{ pgid, startTime, command: 'sleep 60 &' }]);
    const { reaped } = await ProcessGroupLedger.open(basedir);
    expect(reaped.map((group) => group.pgid)).toEqual([pgid]);
    await waitFor(() => processGroupMembers(pgid).length === 0, 5000, 'the sleep to die');
  });

  it('ignores an unreadable list with one warning', async () => {
    const basedir = temporaryDirectory('ampstate-reap-');
    writeFileSync(join(basedir, PROCESS_GROUPS_FILE), '{"groups": [');
    const { logger, lines } = memoryLogger();
    const { reaped } = await ProcessGroupLedger.open(basedir, logger);
    expect(reaped).toEqual([]);
    expect(lines.filter((line) => line.level === 40)).toHaveLength(1);
  });
});

describe('RunProcess with a ledger', () => {
  it('records the group while it runs and drops it once the group is gone', async () => {
    const basedir = temporaryDirectory('ampstate-ledger-');
    const { ledger } = await ProcessGroupLedger.open(basedir);
    const pidFile = join(basedir, 'pid');
    const run = new RunProcess({
      command: `echo $$ > ${pidFile}; sleep 60`,
      workdir: basedir,
      environOverrides: null,
      workerEnviron: { PATH: process.env.PATH },
      sendUpdate: () => undefined,
      processGroups: ledger,
    });
    const done = run.start();
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'), 5000, 'the shell to start');
    const pgid = Number(readFileSync(pidFile, 'utf8'));
    started.push(pgid);
    await ledger.flushed();
    const recorded = JSON.parse(readFileSync(ledger.path, 'utf8')) as { groups: Array<{ pgid: number; startTime: number }> };
    expect(recorded.groups).toEqual([{ pgid, startTime: startTimeOf(pgid), command: `echo $$ > ${pidFile}; sleep 60` }]);
    run.killImmediately();
    await done;
    await waitFor(() => processGroupMembers(pgid).length === 0, 5000, 'the group to die');
    await waitFor(() => readFileSync(ledger.path, 'utf8').includes('"groups": []'), 5000, 'the group to leave the list');
  });
});

describe('sweepStaleTempFiles', () => {
  it('removes dead owners’ temps under the basedir and in the temp directory; keeps live ones, stays out of symlinks and within depth', async () => {
    const basedir = temporaryDirectory('ampstate-sweep-');
    const outside = temporaryDirectory('ampstate-sweep-outside-');
    const dead = deadPid();
    const stale = (label: string) => `${DOWNLOAD_TEMP_PREFIX}${label}-${dead}.5.0a0b0c0d`;
    const deep = join(basedir, 'build-b', 'build', 'fetched');
    mkdirSync(deep, { recursive: true });
    const tooDeep = join(basedir, 'a', 'b', 'c', 'd');
    mkdirSync(tooDeep, { recursive: true });
    const live = ownedTempName(DOWNLOAD_TEMP_PREFIX, 'busy.bin');
    writeFileSync(join(deep, stale('down.bin')), 'half');
    writeFileSync(join(deep, live), 'a download running now');
    writeFileSync(join(deep, 'down.bin.old'), 'not a temp');
    writeFileSync(join(basedir, `.process-groups-process-groups.json-${dead}.5.0a0b0c0d`), '{');
    writeFileSync(join(outside, stale('elsewhere')), 'not under the basedir');
    symlinkSync(outside, join(basedir, 'build-b', 'link'));
    writeFileSync(join(tooDeep, stale('deep')), 'beyond maxDepth');
    const archive = join(tmpdir(), `${UPLOAD_ARCHIVE_PREFIX}${dead}.5.0a0b0c0d`);
    writeFileSync(archive, 'a tar of a killed upload');

    const { removed, truncated } = await sweepStaleTempFiles(basedir, undefined, { maxDepth: 3 });
    expect(truncated).toBe(false);
    expect(readdirSync(deep).sort()).toEqual(['down.bin.old', live].sort());
    expect(readdirSync(basedir).filter((name) => name.startsWith('.process-groups-'))).toEqual([]);
    expect(readdirSync(outside)).toEqual([stale('elsewhere')]);
    expect(readdirSync(tooDeep)).toEqual([stale('deep')]);
    expect(existsSync(archive)).toBe(false);
    expect(removed).toHaveLength(3);
  });

  it('stops after maxDirectories and says so', async () => {
    const basedir = temporaryDirectory('ampstate-sweep-');
    for (const name of ['a', 'b', 'c']) mkdirSync(join(basedir, name));
    const { logger, lines } = memoryLogger();
    expect((await sweepStaleTempFiles(basedir, logger, { maxDirectories: 2 })).truncated).toBe(true);
    expect(lines.filter((line) => line.level === 40)).toHaveLength(1);
  });
});
