/**
 * A file that appears under its name whole or not at all: the data goes to an owned temp file
 * beside the destination (same filesystem, so the rename is atomic), which `commit` syncs and
 * renames into place; `discard` removes it. A process killed in between leaves only the temp,
 * which the next sweep of that directory removes (owned-temp-files.ts). Until the commit, a file
 * that was already at the destination keeps its old content.
 */
import { chmod, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AmpStateError } from '../codec/errors.js';
import { ownedTempName } from './owned-temp-files.js';
import { FlushBehind } from './flush-behind.js';
import { syncDirectory } from './sync-directory.js';
import { writeAll } from './write-blocks.js';

/** The destination is a directory: there is no file to replace. */
export class DestinationIsDirectoryError extends AmpStateError {
  override readonly code = 'AMP_ERR_DESTINATION_IS_DIRECTORY';
  constructor(readonly path: string) {
    super(`'${path}' is a directory`);
  }
}

export interface AtomicFileOptions {
  /** Names the temp file: `<prefix><destination name>-<owner>`. */
  readonly prefix: string;
  /** The file's mode; by default an existing destination's mode is kept, a new file gets 0666 less the umask. */
  readonly mode?: number | null;
}

export class AtomicFile {
  private settled = false;
  private readonly flushBehind: FlushBehind;

  private constructor(
    readonly destination: string,
    readonly tempPath: string,
    private readonly handle: FileHandle,
  ) {
    this.flushBehind = new FlushBehind(handle);
  }

  /** Creates the temp file; the destination's directory must exist. */
  static async create(destination: string, options: AtomicFileOptions): Promise<AtomicFile> {
    const existing = await stat(destination).catch(() => undefined);
    if (existing?.isDirectory() === true) throw new DestinationIsDirectoryError(destination);
    const tempPath = join(dirname(destination), ownedTempName(options.prefix, basename(destination)));
    const handle = await open(tempPath, 'wx', 0o666);
    const file = new AtomicFile(destination, tempPath, handle);
    try {
      // On the temp, before the rename: the file is never visible under its name with another mode.
      const mode = options.mode ?? (existing?.isFile() === true ? existing.mode & 0o7777 : null);
      if (mode !== null) await chmod(tempPath, mode);
    } catch (error) {
      await file.discard();
      throw error;
    }
    return file;
  }

  async write(data: Buffer): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await this.handle.write(data, offset, data.length - offset);
      offset += bytesWritten;
    }
    this.flushBehind.wrote(data.length);
  }

  /** Writes the blocks in order with writev, without joining them first. */
  async writeBlocks(blocks: readonly Buffer[]): Promise<void> {
    this.flushBehind.wrote(await writeAll(this.handle, blocks));
  }

  /**
   * Puts the file in place. The data is synced first: after a power loss the name must not point
   * at blocks that never reached the disk. On failure the temp is removed and the error thrown.
   */
  async commit(): Promise<void> {
    if (this.settled) return;
    try {
      await this.flushBehind.sync();
      await this.handle.close();
      await rename(this.tempPath, this.destination);
      // In place from here on, whatever the directory sync says: nothing is left to discard.
      this.settled = true;
      await syncDirectory(dirname(this.destination));
    } catch (error) {
      await this.discard();
      throw error;
    }
  }

  /** Drops the temp file; the destination is left as it was. Safe to call at any time. */
  async discard(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    await this.handle.close().catch(() => undefined);
    await rm(this.tempPath, { force: true });
  }
}

/** Replaces `path` with `data` atomically (temp beside it, synced, renamed): a reader sees the old file or the new one. */
export async function writeFileAtomically(path: string, data: string | Buffer, prefix: string): Promise<void> {
  const file = await AtomicFile.create(path, { prefix });
  try {
    await file.write(typeof data === 'string' ? Buffer.from(data) : data);
    await file.commit();
  } finally {
    await file.discard();
  }
}
