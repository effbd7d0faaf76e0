/**
 * Socket reads into large slabs through net.Socket's `onread`, instead of Node's default of a
 * fresh 64 KiB buffer for every read (issue #13).
 *
 * Consecutive reads land back to back in one slab, so an AMP value that straddles two reads is
 * still contiguous in memory and the decoder takes a view of it rather than a copy (see
 * BoxDecoder). A bulk transfer then leaves about one block of garbage per block received instead
 * of two (the read buffer and the copy), and reads can be larger than 64 KiB.
 *
 * The chunks handed on are views into the slab, and a value view may be kept for as long as its
 * consumer likes (a block waiting for the disk). So a large slab is read into again only once
 * nothing can read it any more (codec/slab-leases.ts): every view of it that left the codec was
 * leased and given back, and every reader of the socket registered with `registerSlabReader` says
 * it holds none of its bytes. Otherwise it is left to the garbage collector and a fresh one is
 * started, as small slabs always are: a large one while reads come in full (a bulk transfer), else
 * one of Node's own read size.
 */
import { Socket, type OnReadOpts } from 'node:net';
import type { Duplex } from 'node:stream';
import { isUnclaimed, trackSlab, type SlabRecord } from '../codec/slab-leases.js';

/** Several reads' worth: a slab change (where a straddling value is copied) comes once per ~8 blocks. */
export const READ_SLAB_BYTES = 512 * 1024;
/**
 * Where a connection starts, and where it goes back to once its reads are small again. A
 * connection holds its current slab for as long as it lives, and most connections (a listener may
 * hold thousands) never carry a bulk transfer.
 */
export const SMALL_SLAB_BYTES = 64 * 1024;
/** A read is never offered less than this (Node's own read size). */
const MIN_READ_BYTES = 64 * 1024;
/** A read this small ends a bulk run: the next slab is a small one. */
const TRICKLE_BYTES = 16 * 1024;
/**
 * Large slabs kept, once read to the end, for reading into again. A download's blocks stay leased
 * for a few slabs' worth (the reads in flight, and the blocks gathered for the next file write):
 * with 4, two 1 GiB downloads allocated 274 fresh slabs and reused 3,987; with 8, 9 and 4,255
 * (`npm run bench -- transfer`).
 */
const KEPT_SLABS = 8;

/** Something that reads a socket's chunks and may keep some for later (a decoder's unfinished box). */
export interface SlabReader {
  holds(memory: ArrayBufferLike): boolean;
}

const readers = new WeakMap<Duplex, SlabReader[]>();

const counts = { allocated: 0, reused: 0 };

/** Large slabs this process allocated, and those it read into again instead (for tests and diagnostics). */
export function largeSlabCounts(): { readonly allocated: number; readonly reused: number } {
  return { ...counts };
}

/**
 * `reader` reads `socket`'s 'data' (one listener) and can tell which slabs it still holds; returns
 * the function that unregisters it. A socket's slabs are read into again only while every 'data'
 * listener is a registered reader, so that an unknown listener can never see its bytes overwritten.
 */
export function registerSlabReader(socket: Duplex, reader: SlabReader): () => void {
  let list = readers.get(socket);
  if (list === undefined) readers.set(socket, (list = []));
  list.push(reader);
  return () => {
    const at = list.indexOf(reader);
    if (at >= 0) list.splice(at, 1);
  };
}

/** @internal Whether no one reading `socket` still holds bytes in `memory` (see registerSlabReader). */
export function unreadBy(socket: Duplex, memory: ArrayBufferLike): boolean {
  const list = readers.get(socket);
  if (list === undefined || list.length === 0) return false;
  // Chunks still queued in the stream, or a listener nobody registered, may hold the slab.
  if (socket.readableLength > 0 || socket.listenerCount('data') !== list.length || socket.listenerCount('readable') > 0) return false;
  for (const reader of list) if (reader.holds(memory)) return false;
  return true;
}

interface KeptSlab {
  readonly slab: Buffer;
  readonly record: SlabRecord;
}

export class ReadSlab {
  private slab: Buffer;
  /** The current slab's record, when it is a large one (only large slabs are read into again). */
  private record: SlabRecord | undefined;
  private used = 0;
  /** Whether the next fresh slab is a large one: set by a read that filled all it was offered. */
  private bulk = false;
  /** Large slabs read to the end, oldest first, waiting to be unclaimed. */
  private kept: KeptSlab[] = [];

  constructor(
    private readonly bulkBytes = READ_SLAB_BYTES,
    private readonly minReadBytes = MIN_READ_BYTES,
    private readonly smallBytes = SMALL_SLAB_BYTES,
    /** Whether the socket's readers hold nothing in `memory` any more; never, by default. */
    private readonly unread: (memory: ArrayBufferLike) => boolean = () => false,
  ) {
    this.slab = this.wantsLarge ? this.freshLarge() : Buffer.allocUnsafeSlow(smallBytes);
  }

  /** Large slabs throughout (a connecting socket), or during a bulk run. */
  private get wantsLarge(): boolean {
    return this.bulk || this.smallBytes >= this.bulkBytes;
  }

  /**
   * Where the next read goes: the rest of the current slab, or another one. A large slab is given
   * up as soon as a bulk run ends, so that a connection gone quiet after a transfer holds a small one.
   */
  next(): Buffer {
    const large = this.wantsLarge;
    if (this.slab.length - this.used < this.minReadBytes || (!large && this.slab.length > this.smallBytes)) {
      this.keepCurrent(large);
      this.slab = large ? (this.reusable() ?? this.freshLarge()) : Buffer.allocUnsafeSlow(this.smallBytes);
      this.used = 0;
    }
    return this.slab.subarray(this.used);
  }

  private keepCurrent(large: boolean): void {
    if (!large) {
      // A quiet connection keeps no large slab at all.
      this.kept = [];
      this.record = undefined;
      return;
    }
    if (this.record === undefined || this.record.pinned) return;
    this.kept.push({ slab: this.slab, record: this.record });
    if (this.kept.length > KEPT_SLABS) this.kept.shift();
  }

  /** The oldest kept slab nothing can read any more, which becomes the current one. */
  private reusable(): Buffer | undefined {
    this.kept = this.kept.filter(({ record }) => !record.pinned);
    const at = this.kept.findIndex(({ slab, record }) => isUnclaimed(record) && this.unread(slab.buffer));
    if (at < 0) return undefined;
    const [found] = this.kept.splice(at, 1);
    counts.reused++;
    this.record = found!.record;
    return found!.slab;
  }

  private freshLarge(): Buffer {
    const slab = Buffer.allocUnsafeSlow(this.bulkBytes);
    counts.allocated++;
    this.record = trackSlab(slab);
    return slab;
  }

  /** The `bytes` just read into `target` (the last `next()`), which are now taken for good. */
  take(target: Buffer, bytes: number): Buffer {
    this.used += bytes;
    // A full read means the kernel had more waiting: a bulk transfer, worth large slabs.
    if (bytes === target.length) this.bulk = true;
    else if (bytes < TRICKLE_BYTES) this.bulk = false;
    return target.subarray(0, bytes);
  }
}

/**
 * `onread` options for a socket: each read goes into a ReadSlab and is pushed into the socket's
 * readable side as usual, so 'data', pause/resume, backpressure, `unshift` and a later StartTLS
 * all behave as without `onread`. `socket` is looked up on the first read (it does not exist yet
 * when the options are made). By default the slabs are large throughout: a connecting socket is
 * one of few in its process, and a transfer's reads often stop short of full, which would
 * otherwise end its bulk run: a download fell to 74–86 % of raw TCP in `npm run bench -- transfer`.
 */
export function slabReads(socket: () => Socket, adaptive = false): OnReadOpts {
  const smallBytes = adaptive ? SMALL_SLAB_BYTES : READ_SLAB_BYTES;
  const slab = new ReadSlab(READ_SLAB_BYTES, MIN_READ_BYTES, smallBytes, (memory) => unreadBy(socket(), memory));
  return {
    buffer: () => slab.next(),
    // false pauses reading, as a full readable buffer does on Node's default path.
    callback: (bytes, target) => socket().push(slab.take(target as Buffer, bytes)),
  };
}

/** The parts of an accepted socket's private libuv handle that adopting it relies on. */
interface StreamHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

/**
 * An accepted socket with its reads going into slabs, as `slabReads` gives connecting sockets.
 * Node takes `onread` only when it makes the socket, and a server makes its sockets itself, so the
 * accepted socket's handle moves to a new Socket made with `onread` (the handle is Node's private
 * `_handle`; if a Node version lacks it, the accepted socket is used as it is). The server must
 * have been created with `pauseOnConnect`, so that no byte is read before the move. The accepted
 * socket is destroyed once the new one closes: that is what the server counts for
 * `maxConnections` and waits for in `close()`. Its slabs start small and are large only while reads
 * come in full: a listener may hold thousands of connections, each holding its current slab.
 */
export function adoptWithSlabReads(accepted: Socket): Socket {
  const owner = accepted as unknown as { _handle: StreamHandle | null | undefined };
  const handle = owner._handle;
  if (handle === null || handle === undefined || typeof handle.useUserBuffer !== 'function') {
    accepted.resume();
    return accepted;
  }
  owner._handle = null;
  // `handle` is not in Node's typings: the constructor takes it all the same (the server uses it).
  const options = { handle, readable: true, writable: true, onread: slabReads(() => adopted, true) };
  const adopted: Socket = new Socket(options as ConstructorParameters<typeof Socket>[0]);
  adopted.once('close', () => accepted.destroy());
  return adopted;
}
