/**
 * Extraction of a directory upload's tar (docs/master-worker-protocol.md §2.2 `unpack`): plain, gzip or bzip2, detected from
 * the first bytes. Like Python's "data" extraction filter, and stricter: the whole archive is
 * checked before a single byte is written, and any entry that could land outside the destination
 * refuses the archive: absolute names, `..`, links whose target leaves it (following the archive's
 * own symlinks), devices and FIFOs. Modes lose setuid/setgid/sticky and group/other write bits.
 *
 * The worker's archive has the directory itself as its first entry, named `/` (Python's tarfile
 * writes the empty arcname that way); that one entry stands for the destination root.
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import * as tar from 'tar';
import { UnpackError, UnsafeArchiveError } from './errors.js';

export type ArchiveCompression = 'none' | 'gz' | 'bz2';

const SYSTEM_BZIP2 = '/usr/bin/bzip2';
const MAX_LINK_HOPS = 40;
const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

/** Reads the magic number: `1f 8b` is gzip, `BZh` is bzip2, anything else is taken as plain tar. */
export async function detectCompression(path: string): Promise<ArchiveCompression> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(3);
    const { bytesRead } = await handle.read(head, 0, 3, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gz';
    if (bytesRead === 3 && head.toString('latin1') === 'BZh') return 'bz2';
    return 'none';
  } finally {
    await handle.close();
  }
}

interface Source {
  readonly stream: Readable;
  /** Settles when the decompressor (if any) has exited; rejects on its failure. */
  readonly done: Promise<void>;
  stop(): void;
}

/** The archive as a tar (or gzip, which tar's parser undoes itself) byte stream. */
function openSource(path: string, compression: ArchiveCompression): Source {
  if (compression !== 'bz2') {
    const stream = createReadStream(path);
    return { stream, done: Promise.resolve(), stop: () => stream.destroy() };
  }
  const child = spawn(existsSync(SYSTEM_BZIP2) ? SYSTEM_BZIP2 : 'bzip2', ['-dc', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let diagnostics = '';
  let stopped = false;
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (diagnostics += chunk));
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new UnpackError(`cannot run bzip2: ${error.message}`, { cause: error })));
    child.once('close', (code, signal) => {
      if (code === 0 || stopped) resolve();
      else reject(new UnpackError(`bzip2 failed (${signal ?? `exit code ${code}`}): ${diagnostics.trim()}`));
    });
  });
  return {
    stream: child.stdout,
    done,
    stop: () => {
      stopped = true;
      child.kill();
    },
  };
}

/** Archive name → path segments inside the destination; `undefined` for the root entry. */
function entrySegments(name: string): string[] | undefined {
  if (name === '' || name === '.' || name === './' || name === '/') return undefined;
  if (name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:/.test(name)) throw new UnsafeArchiveError(name, 'absolute path');
  const segments = name.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) throw new UnsafeArchiveError(name, "path contains '..'");
  if (segments.length === 0) return undefined;
  return segments;
}

/**
 * Whether walking `relative` from `start` leaves the root, substituting the archive's symlinks as
 * they are met (a link to `.` followed by `..` is an escape even though `l/..` looks harmless).
 */
function leavesRoot(start: readonly string[], relative: string, links: ReadonlyMap<string, string>): boolean {
  const queue = relative.split('/');
  const stack = [...start];
  let hops = 0;
  while (queue.length > 0) {
    const segment = queue.shift() as string;
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (stack.length === 0) return true;
      stack.pop();
      continue;
    }
    stack.push(segment);
    const target = links.get(stack.join('/'));
    if (target === undefined) continue;
    if (++hops > MAX_LINK_HOPS || target.startsWith('/')) return true;
    stack.pop();
    queue.unshift(...target.split('/'));
  }
  return false;
}

/** Checks one entry in archive order; `links` collects the symlinks seen so far. */
function checkEntry(entry: tar.ReadEntry, links: Map<string, string>): void {
  const name = entry.path;
  const type = entry.type;
  const segments = entrySegments(name);
  if (segments === undefined) {
    if (type !== 'Directory') throw new UnsafeArchiveError(name, `the root entry is a ${type}, not a directory`);
    return;
  }
  if (!ALLOWED_TYPES.has(type)) throw new UnsafeArchiveError(name, `${type} entries are not extracted`);
  const key = segments.join('/');
  if (leavesRoot([], key, links)) throw new UnsafeArchiveError(name, 'path goes through a link that leaves the destination');
  const linkpath = entry.linkpath ?? '';
  if (type === 'SymbolicLink') {
    if (linkpath.startsWith('/') || /^[A-Za-z]:/.test(linkpath)) throw new UnsafeArchiveError(name, `symlink to absolute path '${linkpath}'`);
    if (leavesRoot(segments.slice(0, -1), linkpath, links)) throw new UnsafeArchiveError(name, `symlink target '${linkpath}' is outside the destination`);
    links.set(key, linkpath);
  } else if (type === 'Link') {
    let target: string[] | undefined;
    try {
      target = entrySegments(linkpath);
    } catch {
      throw new UnsafeArchiveError(name, `hard link to '${linkpath}' is outside the destination`);
    }
    if (target === undefined || leavesRoot([], target.join('/'), links)) throw new UnsafeArchiveError(name, `hard link to '${linkpath}' is outside the destination`);
  } else {
    links.delete(key);
  }
}

/** First pass: read every header, extract nothing. */
async function verifyArchive(path: string, compression: ArchiveCompression): Promise<void> {
  const source = openSource(path, compression);
  const links = new Map<string, string>();
  let violation: Error | undefined;
  const parser = new tar.Parser({
    strict: true,
    onReadEntry: (entry) => {
      if (violation === undefined) {
        try {
          checkEntry(entry, links);
        } catch (error) {
          violation = error as Error;
          source.stop();
          parser.abort(violation);
        }
      }
      entry.resume();
    },
  });
  await new Promise<void>((resolve, reject) => {
    parser.on('error', (error: Error) => (violation === undefined ? reject(error) : resolve()));
    parser.on('end', () => resolve());
    source.stream.on('error', reject);
    source.stream.pipe(parser as unknown as NodeJS.WritableStream);
  }).catch((error: unknown) => {
    throw error instanceof UnpackError ? error : new UnpackError(`cannot read archive: ${(error as Error).message}`, { cause: error });
  });
  if (violation !== undefined) throw violation;
  await source.done;
}

/** Python's data filter for modes: no special bits, no group/other write, owner can read and write. */
function safeMode(mode: number | undefined, directory: boolean): number | undefined {
  if (mode === undefined) return undefined;
  return (mode & 0o755) | (directory ? 0o700 : 0o600);
}

/** Second pass: extract, with tar's own refusal to write through symlinks on disk as a backstop. */
async function extractArchive(path: string, compression: ArchiveCompression, destination: string): Promise<void> {
  const source = openSource(path, compression);
  const links = new Map<string, string>();
  let violation: Error | undefined;
  const unpack: tar.Unpack = new tar.Unpack({
    cwd: destination,
    strict: true,
    preserveOwner: false,
    preservePaths: false,
    // Checked again here, and never thrown from inside tar's stream: it is aborted instead.
    filter: (_path, entry) => {
      const read = entry as tar.ReadEntry;
      try {
        checkEntry(read, links);
        if (entrySegments(read.path) === undefined) return false;
      } catch (error) {
        violation ??= error as Error;
        source.stop();
        unpack.abort(violation);
        return false;
      }
      read.mode = safeMode(read.mode, read.type === 'Directory');
      return true;
    },
  });
  await new Promise<void>((resolve, reject) => {
    unpack.on('error', (error: Error) => reject(violation ?? error));
    unpack.on('close', () => resolve());
    source.stream.on('error', reject);
    source.stream.pipe(unpack as unknown as NodeJS.WritableStream);
  }).catch((error: unknown) => {
    source.stop();
    if (error instanceof UnpackError || error instanceof UnsafeArchiveError) throw error;
    throw new UnpackError(`cannot extract archive: ${(error as Error).message}`, { cause: error });
  });
  await source.done;
}

/**
 * Checks then extracts the tar at `archivePath` into `destination` (created if missing). Throws
 * UnsafeArchiveError (nothing written) or UnpackError.
 */
export async function unpackArchive(archivePath: string, destination: string): Promise<ArchiveCompression> {
  const compression = await detectCompression(archivePath);
  await verifyArchive(archivePath, compression);
  await mkdir(destination, { recursive: true });
  await extractArchive(archivePath, compression, destination);
  return compression;
}
