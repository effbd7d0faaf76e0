/**
 * The upload loop shared by upload_file and upload_directory (spec §3.4): one block at a time,
 * each acknowledged before the next is read (stop-and-wait, as Buildbot does).
 */
import type { FileHandle } from 'node:fs/promises';
import { maxsizeReachedMessage, type TransferStatus } from './transfer-status.js';

/** Reads up to `length` bytes, fewer only at end of file. */
export async function readBlock(handle: FileHandle, length: number): Promise<Buffer> {
  const block = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(block, filled, length - filled, null);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return block.subarray(0, filled);
}

export interface BlockUploadOptions {
  readonly source: FileHandle | null;
  readonly path: string;
  readonly blocksize: number;
  /** Bytes that may still be sent; null for no limit. */
  readonly maxsize: number | null;
  readonly status: TransferStatus;
  readonly stopped: () => boolean;
  readonly writeBlock: (data: Buffer) => Promise<void>;
}

export async function uploadBlocks(options: BlockUploadOptions): Promise<void> {
  const { source, status } = options;
  let remaining = options.maxsize;
  for (;;) {
    if (status.interrupted || options.stopped() || source === null) return;
    const length = remaining === null ? options.blocksize : Math.min(options.blocksize, remaining);
    if (length <= 0) {
      // Buildbot stops once the limit is used up without probing for EOF, so a file of exactly
      // maxsize bytes is reported as truncated too. Kept: masters rely on the same rc.
      status.fail(maxsizeReachedMessage(options.path));
      return;
    }
    const data = await readBlock(source, length);
    if (data.length === 0) return;
    if (remaining !== null) remaining -= data.length;
    await options.writeBlock(data);
  }
}
