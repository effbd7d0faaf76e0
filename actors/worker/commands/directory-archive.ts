/**
 * The tar file upload_directory sends (docs/master-worker-protocol.md §3.4): members relative to the directory, with the
 * directory itself as a first entry named `/` (Python's tarfile writes the empty arcname that
 * way), symlinks stored as links, gzip or bzip2 compressed on request.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export type ArchiveCompression = null | 'gz' | 'bz2';

const SYSTEM_BZIP2 = '/usr/bin/bzip2';

/** Paths as Python's `tarfile.add(directory, '')` names them. */
function renameLikePythonTarfile(entry: { path: string }): void {
  if (entry.path === './') entry.path = '/';
  else if (entry.path.startsWith('./')) entry.path = entry.path.slice(2);
}

async function bzip2Into(archive: Readable, destination: string): Promise<void> {
  const output = await open(destination, 'w');
  try {
    const bzip2 = spawn(existsSync(SYSTEM_BZIP2) ? SYSTEM_BZIP2 : 'bzip2', ['-c'], {
      stdio: ['pipe', output.fd, 'pipe'],
    });
    let diagnostics = '';
    bzip2.stderr?.setEncoding('utf8').on('data', (text: string) => (diagnostics += text));
    const exited = new Promise<void>((resolve, reject) => {
      bzip2.on('error', reject);
      bzip2.on('close', (code, signal) => {
        if (code === 0) resolve();
        else reject(new Error(`bzip2 failed (${signal ?? `exit code ${code}`}): ${diagnostics.trim()}`));
      });
    });
    const input = bzip2.stdin;
    if (input === null) throw new Error('bzip2 was started without a stdin pipe');
    await Promise.all([pipeline(archive, input), exited]);
  } finally {
    await output.close();
  }
}

/**
 * Writes the archive of `directory` to `destination`. Filesystem errors keep their `code` and
 * `path`, so the caller can word them as Python would.
 */
export async function writeDirectoryArchive(
  directory: string,
  destination: string,
  compression: ArchiveCompression,
): Promise<void> {
  if (!(await stat(directory)).isDirectory()) {
    throw Object.assign(new Error(`ENOTDIR: not a directory, '${directory}'`), { code: 'ENOTDIR', path: directory });
  }
  // Loaded on first use: most workers never upload a directory, and tar is not small.
  const tar = await import('tar');
  // Readable.from adapts tar's minipass stream to Node's stream API (errors included).
  const archive = Readable.from(
    tar.c({ cwd: directory, gzip: compression === 'gz', strict: true, onWriteEntry: renameLikePythonTarfile }, ['.']),
  );
  if (compression === 'bz2') await bzip2Into(archive, destination);
  else await pipeline(archive, createWriteStream(destination));
}
