import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectCommand, removeDir, tempDir } from './harness.js';

let root: string;

beforeEach(() => {
  root = tempDir();
});

afterEach(() => removeDir(root));

function file(name: string, content: string | Buffer): string {
  const path = join(root, name);
  writeFileSync(path, content);
  return path;
}

const maxsizeMessage = (path: string) => `Maximum filesize reached, truncating file '${path}'\n`;

describe('upload_file', () => {
  it.each([
    ['0 B', '', []],
    ['1 B', 'x', ['write 1']],
    ['exactly one block', 'abcd', ['write 4']],
    ['more than a block', 'abcdefghij', ['write 4', 'write 4', 'write 2']],
  ])('sends %s in acknowledged blocks of at most blocksize, then closes', async (_label, content, writes) => {
    const path = file('src', content);
    const { master } = await expectCommand('upload_file', { path, blocksize: 4, maxsize: null, keepstamp: false })
      .header(`sending ${path}\n`)
      .rc(0)
      .elapsed()
      .run();
    expect(master.calls).toEqual([...writes, 'close']);
    expect(master.uploaded.toString()).toBe(content);
  });

  it('accepts a file smaller than maxsize', async () => {
    const path = file('src', 'four');
    const { master } = await expectCommand('upload_file', { path, blocksize: 16, maxsize: 5 }).header(`sending ${path}\n`).rc(0).elapsed().run();
    expect(master.calls).toEqual(['write 4', 'close']);
  });

  it('reports a file of exactly maxsize bytes as truncated (Buildbot never probes for EOF)', async () => {
    const path = file('src', 'fiver');
    const { master } = await expectCommand('upload_file', { path, blocksize: 16, maxsize: 5 })
      .header(`sending ${path}\n`)
      .rc(1)
      .elapsed()
      .stderr(maxsizeMessage(path))
      .run();
    expect(master.calls).toEqual(['write 5', 'close']);
  });

  it('sends only maxsize bytes of a larger file', async () => {
    const path = file('src', 'nineteen bytes long');
    const { master } = await expectCommand('upload_file', { path, blocksize: 3, maxsize: 5 })
      .header(`sending ${path}\n`)
      .rc(1)
      .elapsed()
      .stderr(maxsizeMessage(path))
      .run();
    expect(master.calls).toEqual(['write 3', 'write 2', 'close']);
    expect(master.uploaded.toString()).toBe('ninet');
  });

  it('still closes the writer when the source cannot be opened', async () => {
    for (const path of [join(root, 'missing'), root]) {
      const { master } = await expectCommand('upload_file', { path, blocksize: 16, maxsize: null })
        .header(`sending ${path}\n`)
        .rc(1)
        .elapsed()
        .stderr(`Cannot open file '${path}' for upload\n`)
        .run();
      expect(master.calls).toEqual(['close']);
    }
  });

  it('with keepstamp sends the times after closing', async () => {
    const path = file('src', 'stamp');
    utimesSync(path, 1_000_000_000.5, 1_200_000_000.25);
    const { master } = await expectCommand('upload_file', { path, blocksize: 16, maxsize: null, keepstamp: true })
      .header(`sending ${path}\n`)
      .rc(0)
      .elapsed()
      .run();
    expect(master.calls).toEqual(['write 5', 'close', 'utime']);
    expect(master.utimes).toEqual([[1_000_000_000.5, 1_200_000_000.25]]);
  });

  it('stops at the next block after an interrupt, closes, and reports rc 1 without elapsed', async () => {
    const path = file('src', '0123456789');
    const { master } = await expectCommand('upload_file', { path, blocksize: 1, maxsize: null })
      .during((command, master) => {
        master.onCall = (call, index) => {
          if (call.startsWith('write') && index === 2) command.interrupt('user');
        };
      })
      .header(`sending ${path}\n`)
      .rc(1)
      .run();
    expect(master.calls).toEqual(['write 1', 'write 1', 'write 1', 'close']);
  });

  it('closes the writer and fails when a write is refused', async () => {
    const path = file('src', 'abcdefgh');
    const { master } = await expectCommand('upload_file', { path, blocksize: 4, maxsize: null })
      .withMaster((master) => {
        master.failures.write = new Error('disk full');
      })
      .header(`sending ${path}\n`)
      .rc(1)
      .elapsed()
      .fails('disk full')
      .run();
    expect(master.calls).toEqual(['write 4', 'close']);
  });
});

describe('upload_directory', () => {
  function makeTree(): string {
    const dir = join(root, 'tree');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'a.txt'), 'alpha\n');
    writeFileSync(join(dir, 'sub', 'b.txt'), 'beta\n'.repeat(1000));
    symlinkSync('a.txt', join(dir, 'link'));
    return dir;
  }

  function transferFiles(): string[] {
    return readdirSync(tmpdir()).filter((name) => name.startsWith('buildbot-transfer-'));
  }

  it.each([
    [null, ''],
    ['gz', 'z'],
    ['bz2', 'j'],
  ] as const)('tars the directory (compress %s) with relative members and a "/" root entry', async (compress, tarFlag) => {
    const dir = makeTree();
    const before = transferFiles();
    const { master } = await expectCommand('upload_directory', { path: dir, blocksize: 512, maxsize: null, compress })
      .header(`sending ${dir}\n`)
      .rc(0)
      .elapsed()
      .run();
    expect(master.calls.at(-1)).toBe('unpack');
    expect(master.calls.slice(0, -1).every((call) => /^write (512|\d{1,3})$/.test(call))).toBe(true);
    const archive = join(root, 'upload.tar');
    writeFileSync(archive, master.uploaded);
    const listing = spawnSync('tar', [`-t${tarFlag}f`, archive], { encoding: 'utf8' });
    expect(listing.stdout.split('\n').filter(Boolean).sort()).toEqual(['/', 'a.txt', 'link', 'sub/', 'sub/b.txt']);
    const out = join(root, 'out');
    mkdirSync(out);
    expect(spawnSync('tar', [`-x${tarFlag}f`, archive, '-C', out]).status).toBe(0);
    expect(readFileSync(join(out, 'sub', 'b.txt'), 'utf8')).toBe('beta\n'.repeat(1000));
    expect(readFileSync(join(out, 'link'), 'utf8')).toBe('alpha\n');
    expect(transferFiles()).toEqual(before);
  });

  it('reports a missing directory without sending anything', async () => {
    const dir = join(root, 'missing');
    const { master } = await expectCommand('upload_directory', { path: dir, blocksize: 512, maxsize: null, compress: null })
      .rc(1)
      .elapsed()
      .stderr(`Cannot read directory '${dir}' for upload: [Errno 2] No such file or directory: '${dir}'\n`)
      .run();
    expect(master.calls).toEqual([]);
  });

  it('truncates the archive at maxsize and still asks the master to unpack', async () => {
    const dir = makeTree();
    const { master } = await expectCommand('upload_directory', { path: dir, blocksize: 64, maxsize: 100, compress: null })
      .header(`sending ${dir}\n`)
      .rc(1)
      .elapsed()
      .stderr(maxsizeMessage(dir))
      .run();
    expect(master.calls).toEqual(['write 64', 'write 36', 'unpack']);
  });

  it('stops at the next block after an interrupt but still asks the master to unpack', async () => {
    const dir = makeTree();
    const { master } = await expectCommand('upload_directory', { path: dir, blocksize: 512, maxsize: null, compress: null })
      .during((command, master) => {
        master.onCall = (call, index) => {
          if (call.startsWith('write') && index === 1) command.interrupt('user');
        };
      })
      .header(`sending ${dir}\n`)
      .rc(1)
      .run();
    expect(master.calls).toEqual(['write 512', 'write 512', 'unpack']);
  });

  it('fails with rc 1 when the master cannot unpack', async () => {
    const dir = makeTree();
    await expectCommand('upload_directory', { path: dir, blocksize: 65536, maxsize: null, compress: 'gz' })
      .withMaster((master) => {
        master.failures.unpack = new Error('not a tar file');
      })
      .header(`sending ${dir}\n`)
      .rc(1)
      .elapsed()
      .fails('not a tar file')
      .run();
  });
});

describe('download_file', () => {
  it.each([
    ['0 B', 0, ['read 16']],
    ['less than a block', 5, ['read 16', 'read 16']],
    ['several blocks', 40, ['read 16', 'read 16', 'read 16', 'read 16']],
  ])('writes %s, reading until EOF, and always closes the reader', async (_label, size, reads) => {
    const data = Buffer.from(Array.from({ length: size }, (_, index) => index % 251));
    const path = join(root, 'nested', 'dir', 'dest');
    const { master } = await expectCommand('download_file', { path, blocksize: 16, maxsize: null, mode: null })
      .withMaster((master) => {
        master.readerData = data;
      })
      .rc(0)
      .elapsed()
      .run();
    expect(master.calls).toEqual([...reads, 'closeReader']);
    expect(readFileSync(path)).toEqual(data);
  });

  it('truncates an existing file and applies mode', async () => {
    const path = file('dest', 'old content that is longer');
    await expectCommand('download_file', { path, blocksize: 16, maxsize: null, mode: 0o750 })
      .withMaster((master) => {
        master.readerData = Buffer.from('new');
      })
      .rc(0)
      .elapsed()
      .run();
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(statSync(path).mode & 0o777).toBe(0o750);
  });

  it('copes with a master that returns less than asked', async () => {
    const path = join(root, 'dest');
    const { master } = await expectCommand('download_file', { path, blocksize: 16, maxsize: null, mode: null })
      .withMaster((master) => {
        master.readerData = Buffer.from('0123456789');
        master.readerChunkLimit = 4;
      })
      .rc(0)
      .elapsed()
      .run();
    expect(master.calls).toEqual(['read 16', 'read 16', 'read 16', 'read 16', 'closeReader']);
    expect(readFileSync(path, 'utf8')).toBe('0123456789');
  });

  it('reports a file of exactly maxsize bytes as truncated and keeps what arrived', async () => {
    const path = join(root, 'dest');
    const { master } = await expectCommand('download_file', { path, blocksize: 16, maxsize: 10, mode: null })
      .withMaster((master) => {
        master.readerData = Buffer.from('0123456789');
      })
      .rc(1)
      .elapsed()
      .stderr(maxsizeMessage(path))
      .run();
    expect(master.calls).toEqual(['read 10', 'closeReader']);
    expect(readFileSync(path, 'utf8')).toBe('0123456789');
  });

  it('reports a destination that cannot be opened and still closes the reader', async () => {
    const path = join(root, 'a-directory');
    mkdirSync(path);
    const { master } = await expectCommand('download_file', { path, blocksize: 16, maxsize: null, mode: null })
      .rc(1)
      .elapsed()
      .stderr(`Cannot open file '${path}' for download\n`)
      .run();
    expect(master.calls).toEqual(['closeReader']);
  });

  it('stops after an interrupt with rc 1, closes the reader and keeps no partial file', async () => {
    const path = join(root, 'dest');
    const { master } = await expectCommand('download_file', { path, blocksize: 2, maxsize: null, mode: null })
      .withMaster((master) => {
        master.readerData = Buffer.from('0123456789');
      })
      .during((command, master) => {
        master.onCall = (call) => {
          if (call.startsWith('read') && master.calls.length === 2) command.interrupt('user');
        };
      })
      .rc(1)
      .run();
    expect(master.calls).toEqual(['read 2', 'read 2', 'closeReader']);
    // Buildbot leaves the blocks that arrived under the name; ampstate keeps nothing of an interrupted download.
    expect(readdirSync(root)).toEqual([]);
  });

  it('fails when the parent directory cannot be created', async () => {
    const blocker = file('blocker', '');
    await expectCommand('download_file', { path: join(blocker, 'sub', 'dest'), blocksize: 16, maxsize: null, mode: null })
      .elapsed()
      .fails(/ENOTDIR/)
      .run();
  });
});
