import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FlushBehind } from '../../actors/flush-behind.js';

/** The two calls FlushBehind makes, recorded; each datasync settles when the test says so. */
class RecordingHandle {
  readonly calls: string[] = [];
  readonly pending: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];

  datasync(): Promise<void> {
    this.calls.push('datasync');
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  sync(): Promise<void> {
    this.calls.push('sync');
    return Promise.resolve();
  }

  asFileHandle(): FileHandle {
    return this as unknown as FileHandle;
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('FlushBehind', () => {
  it('starts a datasync once enough bytes wait, and never two at a time', async () => {
    const handle = new RecordingHandle();
    const flush = new FlushBehind(handle.asFileHandle(), 100);
    flush.wrote(60);
    expect(handle.calls).toEqual([]);
    flush.wrote(40);
    expect(handle.calls).toEqual(['datasync']);
    flush.wrote(500);
    expect(handle.calls).toEqual(['datasync']);
    handle.pending[0]!.resolve();
    await tick();
    flush.wrote(100);
    expect(handle.calls).toEqual(['datasync', 'datasync']);
  });

  it('waits for the datasync in flight before the final sync', async () => {
    const handle = new RecordingHandle();
    const flush = new FlushBehind(handle.asFileHandle(), 10);
    flush.wrote(10);
    let synced = false;
    const done = flush.sync().then(() => (synced = true));
    await tick();
    expect(synced).toBe(false);
    expect(handle.calls).toEqual(['datasync']);
    handle.pending[0]!.resolve();
    await done;
    expect(handle.calls).toEqual(['datasync', 'sync']);
  });

  it('throws the error of a background datasync from sync, and does not sync then', async () => {
    const handle = new RecordingHandle();
    const flush = new FlushBehind(handle.asFileHandle(), 10);
    flush.wrote(10);
    handle.pending[0]!.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await expect(flush.sync()).rejects.toThrow('EIO');
    expect(handle.calls).toEqual(['datasync']);
  });

  describe('on a real file', () => {
    let directory: string | undefined;
    afterEach(() => {
      if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
    });

    it('keeps every byte when datasyncs run beside the writes', async () => {
      directory = mkdtempSync(join(tmpdir(), 'ampstate-flush-behind-'));
      const path = join(directory, 'file');
      const handle = await open(path, 'w');
      const flush = new FlushBehind(handle, 64 * 1024);
      const block = Buffer.alloc(48 * 1024);
      for (let i = 0; i < 40; i++) {
        block.fill(i);
        await handle.write(block);
        flush.wrote(block.length);
      }
      await flush.sync();
      await handle.close();
      const written = readFileSync(path);
      expect(written.length).toBe(40 * block.length);
      for (let i = 0; i < 40; i++) expect(written[i * block.length + 7]).toBe(i);
    });
  });
});
