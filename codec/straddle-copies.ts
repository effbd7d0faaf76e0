/**
 * Where BoxDecoder copies a large value that straddles two chunks not adjacent in memory (the
 * last read of one slab and the first of the next, or any two reads of a TLS socket). A bulk
 * transfer straddles once per slab, and a fresh buffer for each copy was most of what a 1 GiB
 * download still allocated once its slabs went round (`npm run bench -- transfer`). So copies go
 * into a few buffers that are reused as the read slabs are: once no box, view or lease claims
 * them (codec/slab-leases.ts) and the decoder itself holds none of them.
 */
import { MAX_VALUE_LENGTH } from './box.js';
import { isUnclaimed, trackSlab, type SlabRecord } from './slab-leases.js';

/** Smaller values are copied into Node's pooled allocations, as before: a whole buffer each would waste more. */
const SMALLEST_KEPT_COPY = 16 * 1024;
/** About one per slab whose blocks are still waiting for the disk. */
const KEPT_BUFFERS = 8;

interface CopyBuffer {
  readonly buffer: Buffer;
  readonly record: SlabRecord;
}

export class StraddleCopies {
  private kept: CopyBuffer[] = [];

  /** Room for a `length`-byte value; `holds` says whether the decoder still holds bytes in a buffer. */
  take(length: number, holds: (memory: ArrayBufferLike) => boolean): Buffer {
    if (length < SMALLEST_KEPT_COPY) return Buffer.allocUnsafe(length);
    this.kept = this.kept.filter(({ record }) => !record.pinned);
    const free = this.kept.find(({ buffer, record }) => isUnclaimed(record) && !holds(buffer.buffer));
    if (free !== undefined) return free.buffer.subarray(0, length);
    const buffer = Buffer.allocUnsafeSlow(MAX_VALUE_LENGTH);
    const record = trackSlab(buffer);
    if (this.kept.length < KEPT_BUFFERS) this.kept.push({ buffer, record });
    return buffer.subarray(0, length);
  }
}
