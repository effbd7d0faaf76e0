/**
 * A file renamed into place is followed by a sync of its directory, so that the new name survives
 * a power loss (actors/sync-directory.ts): for the worker's downloads (AtomicFile) and the master's
 * uploads (FileWriter). The file system calls are recorded in order.
 */
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';

const calls = vi.hoisted(() => [] as string[]);

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...actual,
    rename: async (from: string, to: string) => {
      calls.push(`rename to ${to}`);
      return actual.rename(from, to);
    },
    open: async (...args: Parameters<typeof actual.open>) => {
      const handle = await actual.open(...args);
      const sync = handle.sync.bind(handle);
      handle.sync = async () => {
        calls.push(`sync ${String(args[0])}`);
        return sync();
      };
      return handle;
    },
  };
});

const { AtomicFile } = await import('../../actors/atomic-file.js');
const { FileWriter } = await import('../../actors/master/file-writer.js');
const { temporaryDirectory } = await import('../support/temp-directory.js');

beforeEach(() => {
  calls.length = 0;
});

/** The calls from the rename of `destination` on. */
function fromRename(destination: string): string[] {
  return calls.slice(calls.indexOf(`rename to ${destination}`));
}

describe('a rename into place', () => {
  it('is followed by a sync of the directory, for a download (AtomicFile)', async () => {
    const directory = temporaryDirectory('ampstate-sync-dir-');
    const destination = join(directory, 'artifact.bin');
    const file = await AtomicFile.create(destination, { prefix: '.test-' });
    await file.writeBlocks([Buffer.from('content')]);
    await file.commit();
    expect(fromRename(destination)).toEqual([`rename to ${destination}`, `sync ${directory}`]);
  });

  it('is followed by a sync of the directory, for an upload (FileWriter)', async () => {
    const directory = temporaryDirectory('ampstate-sync-dir-');
    const writer = new FileWriter({ destination: 'uploaded.bin', masterBasedir: directory });
    await writer.write(Buffer.from('content'));
    await writer.close();
    expect(fromRename(join(directory, 'uploaded.bin'))).toEqual([`rename to ${join(directory, 'uploaded.bin')}`, `sync ${directory}`]);
  });
});
