/**
 * download_file writes through a temp file beside the destination: a download that does not finish
 * (interrupted, failed, connection lost) leaves the destination as it was and no temp behind.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DOWNLOAD_TEMP_PREFIX } from '../../actors/worker/commands/download-file.js';
import { isUnclaimed, leaseView, trackSlab, type SlabRecord } from '../../codec/slab-leases.js';
import { expectCommand, removeDir, tempDir } from './harness.js';

let root: string;

beforeEach(() => {
  root = tempDir();
});

afterEach(() => removeDir(root));

const OLD = 'the previous artifact, complete';
const NEW = Buffer.from('0123456789abcdefghij');

function temps(): string[] {
  return readdirSync(root).filter((name) => name.startsWith(DOWNLOAD_TEMP_PREFIX));
}

describe('download_file is atomic', () => {
  it('the temp file sits beside the destination while blocks arrive, and is renamed at the end', async () => {
    const path = join(root, 'dest');
    const seen: string[][] = [];
    await expectCommand('download_file', { path, blocksize: 4, maxsize: null, mode: 0o640 })
      .withMaster((master) => {
        master.readerData = NEW;
        master.onCall = () => {
          seen.push(readdirSync(root));
        };
      })
      .rc(0)
      .elapsed()
      .run();
    expect(seen.some((names) => names.length === 1 && names[0]!.startsWith(`${DOWNLOAD_TEMP_PREFIX}dest-`))).toBe(true);
    expect(seen.every((names) => !names.includes('dest'))).toBe(true);
    expect(readdirSync(root)).toEqual(['dest']);
    expect(readFileSync(path)).toEqual(NEW);
    expect(statSync(path).mode & 0o777).toBe(0o640);
  });

  it('gives back each block leased to it once the block is in the file', async () => {
    const path = join(root, 'dest');
    const records: SlabRecord[] = [];
    let offset = 0;
    await expectCommand('download_file', { path, blocksize: 4, maxsize: null, mode: null })
      .withMaster((master) => {
        // As AmpCommandChannel does: each block a leased view of a read slab.
        master.readBlock = async (maxLength) => {
          // The end of the file is an empty buffer of no slab.
          if (offset === NEW.length) return Buffer.alloc(0);
          const slab = Buffer.allocUnsafeSlow(16);
          records.push(trackSlab(slab));
          const length = NEW.copy(slab, 0, offset, Math.min(NEW.length, offset + maxLength));
          offset += length;
          const block = slab.subarray(0, length);
          leaseView(block);
          return block;
        };
      })
      .rc(0)
      .elapsed()
      .run();
    expect(readFileSync(path)).toEqual(NEW);
    expect(records.length).toBeGreaterThan(4);
    expect(records.every(isUnclaimed)).toBe(true);
  });

  it('an interrupted download leaves an existing destination untouched', async () => {
    const path = join(root, 'dest');
    writeFileSync(path, OLD);
    await expectCommand('download_file', { path, blocksize: 4, maxsize: null, mode: null })
      .withMaster((master) => {
        master.readerData = NEW;
      })
      .during((command, master) => {
        master.onCall = (call) => {
          if (call.startsWith('read') && master.calls.length === 3) command.interrupt('user');
        };
      })
      .rc(1)
      .run();
    expect(readFileSync(path, 'utf8')).toBe(OLD);
    expect(temps()).toEqual([]);
  });

  it('a read that fails removes the temp and leaves the destination untouched', async () => {
    const path = join(root, 'dest');
    writeFileSync(path, OLD);
    await expectCommand('download_file', { path, blocksize: 4, maxsize: null, mode: null })
      .withMaster((master) => {
        master.readerData = NEW;
        master.onCall = (call) => {
          if (master.calls.length === 3) master.failures.read = new Error(`master went away at ${call}`);
        };
      })
      .rc(0)
      .elapsed()
      .fails(/master went away/)
      .run();
    expect(readFileSync(path, 'utf8')).toBe(OLD);
    expect(temps()).toEqual([]);
  });

  it('a lost connection (kill) removes the temp; no file appears under the name', async () => {
    const path = join(root, 'dest');
    await expectCommand('download_file', { path, blocksize: 4, maxsize: null, mode: null })
      .withMaster((master) => {
        master.readerData = NEW;
      })
      .during((command, master) => {
        master.onCall = () => {
          if (master.calls.length === 2) command.kill();
        };
      })
      .loosely()
      .run();
    expect(readdirSync(root)).toEqual([]);
  });

  it('keeps an existing file’s mode when no mode is given', async () => {
    const path = join(root, 'tool.sh');
    writeFileSync(path, '#!/bin/sh\n', { mode: 0o755 });
    await expectCommand('download_file', { path, blocksize: 64, maxsize: null, mode: null })
      .withMaster((master) => {
        master.readerData = Buffer.from('#!/bin/sh\necho new\n');
      })
      .rc(0)
      .elapsed()
      .run();
    expect(statSync(path).mode & 0o777).toBe(0o755);
    expect(readFileSync(path, 'utf8')).toBe('#!/bin/sh\necho new\n');
  });
});
