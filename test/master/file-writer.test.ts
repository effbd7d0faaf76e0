import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PathEscapeError, TransferStateError, UnpackError, UnsafeArchiveError } from '../../actors/master/errors.js';
import { FileWriter, TEMP_PREFIX } from '../../actors/master/file-writer.js';
import { writeDirectoryArchive } from '../../actors/worker/commands/directory-archive.js';
import { bzip2, gzip, makeTar, type TarEntry } from './tar-fixture.js';

let root: string;
let base: string;
let outside: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ampstate-writer-'));
  base = join(root, 'master');
  outside = join(root, 'outside');
  mkdirSync(base);
  mkdirSync(outside);
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

function temps(directory: string): string[] {
  return existsSync(directory) ? readdirSync(directory).filter((name) => name.startsWith(TEMP_PREFIX)) : [];
}

/** Every path under `directory`, relative, sorted. */
function tree(directory: string, prefix = ''): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory)
    .flatMap((name) => {
      const path = join(directory, name);
      const rel = prefix + name;
      return lstatSync(path).isDirectory() ? [`${rel}/`, ...tree(path, `${rel}/`)] : [rel];
    })
    .sort();
}

describe('FileWriter', () => {
  it('writes to a temp file beside the destination and renames it on close', async () => {
    const writer = new FileWriter({ destination: 'out/sub/artifact.bin', masterBasedir: base });
    expect(writer.destination).toBe(join(base, 'out/sub/artifact.bin'));
    const progress: number[] = [];
    writer.progress$.subscribe(({ bytes }) => progress.push(bytes));
    await writer.write(Buffer.from('hello '));
    const [temp] = temps(join(base, 'out/sub'));
    expect(temp).toMatch(/^buildbot-transfer-/);
    expect(writer.temporaryPath).toBe(join(base, 'out/sub', temp!));
    expect(existsSync(writer.destination)).toBe(false);
    await writer.write(Buffer.from('world'));
    await writer.close();
    expect(readFileSync(writer.destination, 'utf8')).toBe('hello world');
    expect(temps(join(base, 'out/sub'))).toEqual([]);
    expect(progress).toEqual([6, 11]);
    expect(writer.state).toBe('closed');
    await expect(writer.write(Buffer.from('more'))).rejects.toBeInstanceOf(TransferStateError);
  });

  it('replaces an existing destination, applies the mode, and sets times given before or after close', async () => {
    const destination = join(base, 'a.txt');
    writeFileSync(destination, 'old content');
    const early = new FileWriter({ destination, mode: 0o640 });
    await early.write(Buffer.from('new'));
    await early.utime([1_000_000, 2_000_000]);
    await early.close();
    expect(readFileSync(destination, 'utf8')).toBe('new');
    expect(statSync(destination).mode & 0o777).toBe(0o640);
    expect(statSync(destination).mtimeMs).toBe(2_000_000_000);

    const late = new FileWriter({ destination: join(base, 'b.txt') });
    await late.close();
    await late.utime([3_000_000, 4_000_000]);
    expect(readFileSync(join(base, 'b.txt'), 'utf8')).toBe('');
    expect(statSync(join(base, 'b.txt')).mtimeMs).toBe(4_000_000_000);
  });

  it('cuts data at its own maxsize', async () => {
    const writer = new FileWriter({ destination: join(base, 'cut'), maxsize: 15 });
    await writer.write(Buffer.from('0123456789'));
    await writer.write(Buffer.from('abcdefghij'));
    await writer.write(Buffer.from('zzz'));
    await writer.close();
    expect(readFileSync(join(base, 'cut'), 'utf8')).toBe('0123456789abcde');
    expect(writer.bytesWritten).toBe(15);
  });

  it('cancel deletes the temp file of a writer never closed; purge removes a closed destination', async () => {
    const cancelled = new FileWriter({ destination: join(base, 'c') });
    await cancelled.write(Buffer.from('partial'));
    expect(temps(base)).toHaveLength(1);
    await cancelled.cancel();
    expect(temps(base)).toEqual([]);
    expect(existsSync(join(base, 'c'))).toBe(false);
    expect(cancelled.state).toBe('cancelled');
    await expect(cancelled.write(Buffer.from('x'))).rejects.toBeInstanceOf(TransferStateError);

    const purged = new FileWriter({ destination: join(base, 'p') });
    await purged.write(Buffer.from('whole'));
    await purged.close();
    await purged.cancel();
    expect(existsSync(join(base, 'p'))).toBe(true);
    await purged.purge();
    expect(existsSync(join(base, 'p'))).toBe(false);
    expect(purged.state).toBe('purged');
  });

  it('a failure on close purges the temp file and fails the transfer', async () => {
    const destination = join(base, 'taken');
    mkdirSync(join(destination, 'non-empty'), { recursive: true });
    const writer = new FileWriter({ destination });
    await writer.write(Buffer.from('data'));
    await expect(writer.close()).rejects.toThrow();
    expect(writer.state).toBe('failed');
    expect(temps(base)).toEqual([]);
  });

  it('refuses destinations that escape masterBasedir, lexically and through symlinks, writing nothing', async () => {
    for (const destination of ['../outside/x', join(outside, 'x'), 'a/../../outside/x']) {
      let error: unknown;
      try {
        new FileWriter({ destination, masterBasedir: base });
      } catch (caught) {
        error = caught;
      }
      expect(error, destination).toBeInstanceOf(PathEscapeError);
      expect((error as PathEscapeError).code).toBe('WORKER_ERR_PATH_ESCAPE');
    }
    symlinkSync(outside, join(base, 'link'));
    const writer = new FileWriter({ destination: 'link/x', masterBasedir: base });
    await expect(writer.write(Buffer.from('data'))).rejects.toBeInstanceOf(PathEscapeError);
    expect(readdirSync(outside)).toEqual([]);
    expect(writer.state).toBe('failed');
  });
});

describe('FileWriter.unpack', () => {
  async function upload(archive: Buffer, destination = join(base, 'dest')): Promise<FileWriter> {
    const writer = new FileWriter({ destination, directory: true, masterBasedir: base });
    for (let offset = 0; offset < archive.length; offset += 1000) await writer.write(archive.subarray(offset, offset + 1000));
    return writer;
  }

  for (const compression of [null, 'gz', 'bz2'] as const) {
    it(`extracts a worker-made ${compression ?? 'plain'} tar into the destination and deletes the tar`, async () => {
      const source = join(root, 'src');
      mkdirSync(join(source, 'sub/deeper'), { recursive: true });
      writeFileSync(join(source, 'top.txt'), 'top');
      writeFileSync(join(source, 'sub/deeper/file.bin'), Buffer.alloc(70_000, 7));
      symlinkSync('sub/deeper/file.bin', join(source, 'inside-link'));
      const archivePath = join(root, 'archive');
      await writeDirectoryArchive(source, archivePath, compression);
      const writer = await upload(readFileSync(archivePath));
      await writer.unpack();
      const destination = join(base, 'dest');
      expect(tree(destination)).toEqual(['inside-link', 'sub/', 'sub/deeper/', 'sub/deeper/file.bin', 'top.txt']);
      expect(readFileSync(join(destination, 'inside-link'))).toEqual(Buffer.alloc(70_000, 7));
      expect(temps(base)).toEqual([]);
      expect(writer.state).toBe('unpacked');
    });
  }

  const hostile: Array<[string, TarEntry[]]> = [
    ['a .. path', [{ name: 'ok.txt', data: 'fine' }, { name: '../evil', data: 'x' }]],
    ['an absolute path', [{ name: 'ok.txt', data: 'fine' }, { name: '/tmp/ampstate-evil', data: 'x' }]],
    ['a .. in the middle', [{ name: 'ok.txt', data: 'fine' }, { name: 'a/../../evil', data: 'x' }]],
    ['a symlink to an absolute path', [{ name: 'ok.txt', data: 'fine' }, { name: 'etc', type: 'symlink', linkname: '/etc' }]],
    ['a symlink climbing out', [{ name: 'ok.txt', data: 'fine' }, { name: 'sub/up', type: 'symlink', linkname: '../../outside' }]],
    [
      'a symlink escaping through another symlink',
      [
        { name: 'here', type: 'symlink', linkname: '.' },
        { name: 'sneaky', type: 'symlink', linkname: 'here/..' },
      ],
    ],
    ['a file written through an archive symlink', [{ name: 'l', type: 'symlink', linkname: '.' }, { name: 'l/../evil', data: 'x' }]],
    ['a hard link to outside', [{ name: 'ok.txt', data: 'fine' }, { name: 'hard', type: 'link', linkname: '../outside/secret' }]],
    ['a FIFO', [{ name: 'ok.txt', data: 'fine' }, { name: 'pipe', type: 'fifo' }]],
    ['a device', [{ name: 'ok.txt', data: 'fine' }, { name: 'null', type: 'chardev' }]],
  ];

  for (const [label, entries] of hostile) {
    it(`refuses an archive with ${label}, extracting nothing`, async () => {
      writeFileSync(join(outside, 'secret'), 'secret');
      const writer = await upload(gzip(makeTar(entries)));
      const error = await writer.unpack().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UnsafeArchiveError);
      expect((error as UnsafeArchiveError).code).toBe('WORKER_ERR_UNSAFE_ARCHIVE');
      expect(tree(join(base, 'dest'))).toEqual([]);
      expect(temps(base)).toEqual([]);
      expect(tree(outside)).toEqual(['secret']);
      expect(existsSync('/tmp/ampstate-evil')).toBe(false);
      expect(writer.state).toBe('failed');
    });
  }

  it('does not write through a symlink already in the destination', async () => {
    const destination = join(base, 'dest');
    mkdirSync(destination);
    symlinkSync(outside, join(destination, 'evil'));
    const writer = await upload(bzip2(makeTar([{ name: 'evil/pwned', data: 'x' }])));
    await expect(writer.unpack()).rejects.toThrow();
    expect(tree(outside)).toEqual([]);
  });

  it('fails cleanly on a truncated or corrupt archive', async () => {
    const archive = gzip(makeTar([{ name: 'big', data: Buffer.alloc(5000, 1) }]));
    const truncated = await upload(archive.subarray(0, archive.length - 20));
    await expect(truncated.unpack()).rejects.toBeInstanceOf(UnpackError);
    expect(temps(base)).toEqual([]);
    const garbage = await upload(bzip2(Buffer.from('not a tar at all, just some bytes')), join(base, 'dest2'));
    await expect(garbage.unpack()).rejects.toBeInstanceOf(UnpackError);
  });

  it('unpack is for directory uploads only; strips special mode bits', async () => {
    const file = new FileWriter({ destination: join(base, 'f') });
    await expect(file.unpack()).rejects.toBeInstanceOf(TransferStateError);
    const writer = await upload(makeTar([{ name: 'suid', data: '#!/bin/sh\n', mode: 0o4777 }]));
    await writer.unpack();
    expect(statSync(join(base, 'dest/suid')).mode & 0o7777).toBe(0o755);
  });
});
