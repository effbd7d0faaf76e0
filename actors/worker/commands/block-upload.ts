/**
 * The upload loop shared by upload_file and upload_directory (docs/master-worker-protocol.md §3.4): one block at a time,
 * each handed to the channel before the next is read (Buildbot's stop-and-wait; an ampstate
 * channel may keep a window of them in flight).
 *
 * The file is read ahead in chunks of about READ_AHEAD bytes (a whole number of blocks) and sent
 * in `blocksize` slices: one read per megabyte rather than per block, and the next chunk is read
 * while this one is sent. The chunks come from a ring
 * of buffers reused for the whole upload, just large enough that a chunk is refilled only once the
 * channel no longer holds any of its bytes (`retainedBytes`: the AMP channel sends blocks without
 * copying them, and a window of them may still be in flight): no per-block or per-chunk allocation,
 * so memory stays flat however large the file. A channel that may keep any block gets fresh ones.
 */
import type { FileHandle } from 'node:fs/promises';
import { maxsizeReachedMessage, type TransferStatus } from './transfer-status.js';

/** Bytes read from the source at a time. */
export const READ_AHEAD = 1024 * 1024;

/** Reads up to `length` bytes into `into` (a fresh buffer by default), fewer only at end of file. */
export async function readBlock(handle: FileHandle, length: number, into?: Buffer): Promise<Buffer> {
  const block = into ?? Buffer.allocUnsafe(length);
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
  /**
   * When `writeBlock` resolves, the channel still reads at most this many of the latest bytes it
   * was given (CommandChannel.retainedBytes); unset: it may keep any block, so none is reused.
   */
  readonly retainedBytes?: number;
  /** Same as `retainedBytes: 0`: `writeBlock` has copied the data when it resolves. */
  readonly reuseBuffer?: boolean;
}

/** Hands out the buffers chunks are read into, reusing each once the channel is done with it. */
class ChunkBuffers {
  private readonly ring: Buffer[] = [];
  /** Buffers in the ring; 0: every chunk is a fresh buffer. */
  private readonly count: number;
  private next = 0;

  /** `retained` undefined: the channel may keep any block, so nothing is reused. */
  constructor(
    private readonly chunkSize: number,
    retained: number | undefined,
  ) {
    // The chunk being sent, the one being read ahead, and those the channel may still hold.
    this.count = retained === undefined ? 0 : 2 + Math.ceil(Math.max(0, retained) / chunkSize);
  }

  /**
   * A buffer for the next chunk, read while the one before it is sent. Reused after `count`
   * chunks: by then more than `retained` bytes have been sent since the last of its bytes were, so
   * the channel holds none of them any more.
   */
  take(): Buffer {
    if (this.count === 0) return Buffer.allocUnsafe(this.chunkSize);
    const slot = this.next;
    this.next = (slot + 1) % this.count;
    return (this.ring[slot] ??= Buffer.allocUnsafe(this.chunkSize));
  }
}

export async function uploadBlocks(options: BlockUploadOptions): Promise<void> {
  const { source, status } = options;
  let remaining = options.maxsize;
  // A whole number of blocks, so every block but the last is full, as without read-ahead.
  const chunkSize = options.blocksize * Math.max(1, Math.floor(READ_AHEAD / options.blocksize));
  const buffers = new ChunkBuffers(chunkSize, options.reuseBuffer === true ? 0 : options.retainedBytes);
  // Bytes not yet asked of the file: never more than the limit allows, since what is read past it
  // would not be sent anyway.
  let unread = options.maxsize;
  let eof = false;
  const readChunk = (): Promise<Buffer> | undefined => {
    if (eof || source === null) return undefined;
    const wanted = unread === null ? chunkSize : Math.min(chunkSize, unread);
    if (wanted <= 0) return undefined;
    if (unread !== null) unread -= wanted;
    const read = readBlock(source, wanted, buffers.take()).then((chunk) => {
      if (chunk.length < wanted) eof = true;
      return chunk;
    });
    // Awaited only once this chunk's blocks are sent: a read that fails meanwhile must not count
    // as an unhandled rejection (which ends the worker process). The await still gets the error.
    read.catch(() => undefined);
    return read;
  };
  // The next chunk is read while this one is sent, so the disk and the network work side by side.
  let next = readChunk();
  let chunk: Buffer = Buffer.alloc(0);
  for (;;) {
    if (status.interrupted || options.stopped() || source === null) return;
    const length = remaining === null ? options.blocksize : Math.min(options.blocksize, remaining);
    if (length <= 0) {
      // Buildbot stops once the limit is used up without probing for EOF, so a file of exactly
      // maxsize bytes is reported as truncated too. Kept: masters rely on the same rc.
      status.fail(maxsizeReachedMessage(options.path));
      return;
    }
    if (chunk.length === 0) {
      if (next === undefined) return;
      chunk = await next;
      next = readChunk();
    }
    const data = chunk.subarray(0, length);
    chunk = chunk.subarray(data.length);
    if (data.length === 0) return;
    if (remaining !== null) remaining -= data.length;
    await options.writeBlock(data);
  }
}
