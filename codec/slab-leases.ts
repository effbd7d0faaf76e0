/**
 * Who may still read a read slab (actors/read-slab.ts), so that a slab can be read into again
 * instead of being left to the garbage collector (issue #13: a 1 GiB transfer otherwise leaves tens
 * of megabytes of full slabs waiting for V8's next young-generation collection).
 *
 * The safe default is that a slab is never reused: any view of it that leaves the codec pins it for
 * good. Only two kinds of holder let go of one explicitly:
 * - a box whose consumer calls `disown()` (DecodedBox): it has kept neither the box nor any view of
 *   it, except views it leased;
 * - a leased view: whoever took the lease keeps the view until `releaseView`, and no longer.
 * A lease never released only keeps its slab from being reused; a view used after its release
 * would read another read's bytes, so a lease is released only once its bytes are done with
 * (written to disk).
 */
export interface SlabRecord {
  /** A view of the slab escaped without a lease: the slab is never reused. */
  pinned: boolean;
  /** Views leased and not yet released (a Set: releasing one twice is harmless). */
  readonly leased: Set<Uint8Array>;
  /** Memory read for sending: a connection releases a leased view of it once the view is written. */
  readonly forSending: boolean;
}

const records = new WeakMap<ArrayBufferLike, SlabRecord>();

/** Starts tracking a slab the reader may want to reuse; `forSending`: see SlabRecord. */
export function trackSlab(slab: Uint8Array, forSending = false): SlabRecord {
  const record: SlabRecord = { pinned: false, leased: new Set(), forSending };
  records.set(slab.buffer, record);
  return record;
}

/** `view`'s slab may be read by someone we cannot follow: it is never reused. No-op for other memory. */
export function pinSlabOf(view: Uint8Array): void {
  const record = records.get(view.buffer);
  if (record !== undefined) record.pinned = true;
}

/**
 * `view` stays valid until `releaseView(view)`, even once the box it came from is disowned. The
 * lease is the view object itself: a subarray of a leased view needs its own lease.
 */
export function leaseView(view: Uint8Array): void {
  const record = records.get(view.buffer);
  if (record !== undefined && !record.pinned) record.leased.add(view);
}

/** The leased `view` is done with; releasing a view that holds no lease does nothing. */
export function releaseView(view: Uint8Array): void {
  records.get(view.buffer)?.leased.delete(view);
}

/** Whether `view` itself holds a lease. */
export function isLeased(view: Uint8Array): boolean {
  return records.get(view.buffer)?.leased.has(view) ?? false;
}

/** Whether `view` holds a lease on memory read for sending, which the connection releases once written. */
export function isLeasedForSending(view: Uint8Array): boolean {
  const record = records.get(view.buffer);
  return record !== undefined && record.forSending && record.leased.has(view);
}

/** No escaped view and no lease: nothing outside the reader and its decoder refers to the slab. */
export function isUnclaimed(record: SlabRecord): boolean {
  return !record.pinned && record.leased.size === 0;
}
