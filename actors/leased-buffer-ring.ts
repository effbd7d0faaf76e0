/**
 * Buffers that bytes are read into for sending, each read into again once every block cut from it
 * has been given back (codec/slab-leases.ts), instead of a fresh buffer per read left to the
 * garbage collector. The master's FileReader serves downloads from it: the connection that writes
 * a block releases it once the socket has written it (WriteBatch), so a 1 GiB download goes round
 * a few buffers. A block that goes anywhere else is never released, and its buffer is never reused.
 */
import { isUnclaimed, leaseView, trackSlab, type SlabRecord } from '../codec/slab-leases.js';

/**
 * Reads smaller than this get a buffer of their own, as before: a Buildbot worker over msgpack
 * reads 16 KiB at a time and its connection never releases a block, so a ring would only hold memory.
 */
const SMALLEST_RING_READ = 32 * 1024;

interface RingEntry {
  readonly buffer: Buffer;
  readonly record: SlabRecord;
}

export class LeasedBufferRing {
  private ring: RingEntry[] = [];

  constructor(
    /** The size of every buffer in the ring; a larger request gets a buffer of its own. */
    private readonly bufferBytes: number,
    /** Buffers kept for reuse; when all are claimed, a fresh one is used once and left behind. */
    private readonly kept: number,
  ) {}

  /**
   * A buffer of at least `length` bytes, itself leased as a whole so that it is not handed out
   * again while it is being filled: lease the blocks cut from it, then release it (`releaseView`).
   */
  take(length: number): Buffer {
    if (length > this.bufferBytes || length < SMALLEST_RING_READ) return Buffer.allocUnsafe(length);
    this.ring = this.ring.filter(({ record }) => !record.pinned);
    const free = this.ring.find(({ record }) => isUnclaimed(record));
    if (free !== undefined) {
      leaseView(free.buffer);
      return free.buffer;
    }
    // Every kept buffer is still claimed: blocks that are never released (a msgpack connection
    // copies what it sends) must not cost a whole ring buffer each from then on.
    if (this.ring.length >= this.kept) return Buffer.allocUnsafe(length);
    const buffer = Buffer.allocUnsafeSlow(this.bufferBytes);
    this.ring.push({ buffer, record: trackSlab(buffer, true) });
    leaseView(buffer);
    return buffer;
  }
}
