/**
 * A few buffers of one size, each handed out again once nothing can read it any more
 * (codec/slab-leases.ts), instead of a fresh buffer each time that the garbage collector collects
 * only once tens of megabytes have piled up. BoxDecoder copies large values that straddle two
 * chunks into them; the master's FileReader reads download blocks into them.
 */
import { isUnclaimed, trackSlab, type SlabRecord } from './slab-leases.js';

interface Kept {
  readonly buffer: Buffer;
  readonly record: SlabRecord;
}

export class ReusableBuffers {
  private kept: Kept[] = [];

  constructor(
    readonly bufferBytes: number,
    /** Buffers kept for reuse at most. */
    private readonly limit: number,
    /** Memory read for sending: see SlabRecord. */
    private readonly forSending = false,
  ) {}

  /**
   * A kept buffer that nothing claims and `free` accepts (what slab-leases cannot know, such as a
   * decoder holding it), else a fresh one while fewer than `limit` are kept. Undefined when every kept
   * buffer is claimed: memory that is never given back must not cost a whole buffer each from then on.
   */
  take(free: (buffer: Buffer) => boolean = () => true): Buffer | undefined {
    this.kept = this.kept.filter(({ record }) => !record.pinned);
    const found = this.kept.find(({ buffer, record }) => isUnclaimed(record) && free(buffer));
    if (found !== undefined) return found.buffer;
    if (this.kept.length >= this.limit) return undefined;
    const buffer = Buffer.allocUnsafeSlow(this.bufferBytes);
    this.kept.push({ buffer, record: trackSlab(buffer, this.forSending) });
    return buffer;
  }
}
