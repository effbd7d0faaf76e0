/**
 * Socket reads into large slabs through net.Socket's `onread`, instead of Node's default of a
 * fresh 64 KiB buffer for every read (issue #13).
 *
 * Consecutive reads land back to back in one slab, so an AMP value that straddles two reads is
 * still contiguous in memory and the decoder takes a view of it rather than a copy (see
 * BoxDecoder). A bulk transfer then leaves about one block of garbage per block received instead
 * of two (the read buffer and the copy), and reads can be larger than 64 KiB.
 *
 * A slab is never written over: the chunks handed on are views into it, and a value view may be
 * kept for as long as its consumer likes (a block waiting for the disk). A slab whose rest is too
 * small for a useful read is left to the garbage collector and a fresh one is started: a large one
 * while reads come in full (a bulk transfer), else one of Node's own read size.
 */
import { Socket, type OnReadOpts } from 'node:net';

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

export class ReadSlab {
  private slab: Buffer;
  private used = 0;
  /** Whether the next fresh slab is a large one: set by a read that filled all it was offered. */
  private bulk = false;

  constructor(
    private readonly bulkBytes = READ_SLAB_BYTES,
    private readonly minReadBytes = MIN_READ_BYTES,
    private readonly smallBytes = SMALL_SLAB_BYTES,
  ) {
    this.slab = Buffer.allocUnsafeSlow(smallBytes);
  }

  /**
   * Where the next read goes: the rest of the current slab, or a fresh slab. A large slab is given
   * up as soon as a bulk run ends, so that a connection gone quiet after a transfer holds a small one.
   */
  next(): Buffer {
    if (this.slab.length - this.used < this.minReadBytes || (!this.bulk && this.slab.length > this.smallBytes)) {
      this.slab = Buffer.allocUnsafeSlow(this.bulk ? this.bulkBytes : this.smallBytes);
      this.used = 0;
    }
    return this.slab.subarray(this.used);
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
export function slabReads(socket: () => Socket, slab = new ReadSlab(READ_SLAB_BYTES, MIN_READ_BYTES, READ_SLAB_BYTES)): OnReadOpts {
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
  const options = { handle, readable: true, writable: true, onread: slabReads(() => adopted, new ReadSlab()) };
  const adopted: Socket = new Socket(options as ConstructorParameters<typeof Socket>[0]);
  adopted.once('close', () => accepted.destroy());
  return adopted;
}
