/**
 * An upload first removes the temps a killed master left in its destination's directory: only
 * ours (the name carries the owner), only those whose owner is gone; a temp a live transfer is
 * writing stays, whichever process writes it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TEMP_PREFIX } from '../../actors/master/file-writer.js';
import type { InMemoryConnection } from '../../actors/master/in-memory-connection.js';
import { SUCCESS } from '../../actors/master/results.js';
import { uploadFile } from '../../actors/master/transfers.js';
import { ownedTempName, removeStaleTemps, tempOwner } from '../../actors/owned-temp-files.js';
import { OWN_START_TIME } from '../../actors/process-identity.js';
import { temporaryDirectory } from '../support/temp-directory.js';
import { InProcessWorker } from './in-process-worker.js';

const connections: InMemoryConnection[] = [];

afterEach(async () => {
  for (const connection of connections.splice(0)) {
    connection.loseConnection();
    await connection.detached;
  }
});

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const child = spawnSync('/bin/sh', ['-c', 'echo $$']);
  return Number(String(child.stdout).trim());
}

function names(directory: string): string[] {
  return readdirSync(directory).sort();
}

describe('owned temp names', () => {
  it('carry this process and parse back, with or without a label', () => {
    for (const label of ['', 'tree', 'v1-2', 'x'.repeat(300)]) {
      const name = ownedTempName(TEMP_PREFIX, label);
      expect(name.length).toBeLessThan(255);
      expect(tempOwner(name, TEMP_PREFIX)).toEqual({ pid: process.pid, startTime: OWN_START_TIME });
    }
    expect(tempOwner('buildbot-transfer-k3j4h5', TEMP_PREFIX)).toBeUndefined();
    expect(tempOwner(`other-${process.pid}.1.0a0b0c0d`, TEMP_PREFIX)).toBeUndefined();
  });
});

describe('removeStaleTemps', () => {
  it('removes the temps of a dead owner and of a reused pid; keeps live ones and files that are not ours', async () => {
    const directory = temporaryDirectory('ampstate-stale-');
    const dead = `${TEMP_PREFIX}${deadPid()}.12345.0a0b0c0d`;
    // Our parent runs, but it did not start at tick 1: its pid was reused.
    const reused = `${TEMP_PREFIX}${process.ppid}.1.0a0b0c0d`;
    const live = ownedTempName(TEMP_PREFIX);
    const liveDirectory = ownedTempName(TEMP_PREFIX, 'tree');
    const buildbots = `${TEMP_PREFIX}k3j4h5`;
    const artifact = 'artifact.bin';
    for (const name of [dead, reused, live, liveDirectory, buildbots, artifact]) writeFileSync(join(directory, name), 'x');
    // A directory with such a name is not a temp file of ours.
    const notAFile = `${TEMP_PREFIX}${deadPid()}.1.0a0b0c0e`;
    mkdirSync(join(directory, notAFile));
    const removed = await removeStaleTemps(directory, TEMP_PREFIX);
    expect(removed.map((path) => path.slice(directory.length + 1)).sort()).toEqual([dead, reused].sort());
    expect(names(directory)).toEqual([live, liveDirectory, buildbots, artifact, notAFile].sort());
  });

  it('has nothing to do in a directory that does not exist', async () => {
    expect(await removeStaleTemps(join(temporaryDirectory('ampstate-stale-'), 'missing'), TEMP_PREFIX)).toEqual([]);
  });
});

describe('uploadFile', () => {
  it('removes a killed master’s temp from the destination directory before it writes', async () => {
    const root = temporaryDirectory('ampstate-stale-upload-');
    const masterBase = join(root, 'master');
    const buildDir = join(root, 'worker', 'build-b', 'build');
    mkdirSync(join(masterBase, 'out'), { recursive: true });
    mkdirSync(buildDir, { recursive: true });
    writeFileSync(join(buildDir, 'artifact.bin'), 'fresh');
    const leftover = `${TEMP_PREFIX}${deadPid()}.777.0a0b0c0d`;
    const another = ownedTempName(TEMP_PREFIX);
    writeFileSync(join(masterBase, 'out', leftover), 'half of an old upload');
    writeFileSync(join(masterBase, 'out', another), 'a live upload of this process');
    const connection = await new InProcessWorker({ basedir: join(root, 'worker') }).connect();
    connections.push(connection);
    const result = await uploadFile(connection, { builderName: 'b', workersrc: 'artifact.bin', masterdest: 'out/artifact.bin', masterBasedir: masterBase }).result;
    expect(result.results).toBe(SUCCESS);
    expect(names(join(masterBase, 'out'))).toEqual([another, 'artifact.bin'].sort());
    expect(readFileSync(join(masterBase, 'out', 'artifact.bin'), 'utf8')).toBe('fresh');
  });
});
