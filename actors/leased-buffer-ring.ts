/**
 * Buffers that bytes are read into for sending, each read into again once every block cut from it
 * has been given back (codec/slab-leases.ts), instead of a fresh buffer per read left to the
 * garbage collector. The master's FileReader serves downloads from it: the connection that writes
 * a block releases it once the socket has written it (WriteBatch), so a 1 GiB download goes round
 * a few buffers. A block that goes anywhere else is never released, and its buffer is never reused.
 */
import { isUnclaimed, leaseView, trackSlab, type SlabRecord } from '../codec/slab-leases.js';

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
    if (length > this.bufferBytes) return Buffer.allocUnsafe(length);
    this.ring = this.ring.filter(({ record }) => !record.pinned);
    const free = this.ring.find(({ record }) => isUnclaimed(record));
    const buffer = free?.buffer ?? this.fresh();
    leaseView(buffer);
    return buffer;
  }

  private fresh(): Buffer {
    const buffer = Buffer.allocUnsafeSlow(this.bufferBytes);
    const record = trackSlab(buffer);
    if (this.ring.length < this.kept) this.ring.push({ buffer, record });
    return buffer;
  }
}
