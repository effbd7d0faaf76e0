/**
 * An immutable map whose updates share most of their structure with the map they came from: the
 * keys are spread over a fixed number of buckets, and an update copies only the bucket it touches.
 * The worker registry hands every attach and detach event its own snapshot of the attached
 * workers; copying a whole Map per event made N attaches cost O(N²) (10,000 workers: minutes).
 * Iteration goes bucket by bucket, so it is not in insertion order.
 */
const BUCKETS = 64;
const EMPTY_BUCKET: ReadonlyMap<string, never> = new Map<string, never>();

/** FNV-1a over the UTF-16 code units: a cheap, well-spread bucket index. */
function bucketOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % BUCKETS;
}

export class SnapshotMap<V> implements ReadonlyMap<string, V> {
  static empty<V>(): SnapshotMap<V> {
    return new SnapshotMap<V>(new Array<ReadonlyMap<string, V>>(BUCKETS).fill(EMPTY_BUCKET), 0);
  }

  private constructor(
    private readonly buckets: readonly ReadonlyMap<string, V>[],
    readonly size: number,
  ) {}

  /** A new map with `key` set to `value`; this one is unchanged. */
  with(key: string, value: V): SnapshotMap<V> {
    const index = bucketOf(key);
    const bucket = new Map(this.buckets[index]!);
    const added = !bucket.has(key);
    bucket.set(key, value);
    return this.replaced(index, bucket, added ? this.size + 1 : this.size);
  }

  /** A new map without `key` (this one if it had no such key). */
  without(key: string): SnapshotMap<V> {
    const index = bucketOf(key);
    if (!this.buckets[index]!.has(key)) return this;
    const bucket = new Map(this.buckets[index]!);
    bucket.delete(key);
    return this.replaced(index, bucket, this.size - 1);
  }

  get(key: string): V | undefined {
    return this.buckets[bucketOf(key)]!.get(key);
  }

  has(key: string): boolean {
    return this.buckets[bucketOf(key)]!.has(key);
  }

  *entries(): MapIterator<[string, V]> {
    for (const bucket of this.buckets) yield* bucket.entries();
  }

  *keys(): MapIterator<string> {
    for (const bucket of this.buckets) yield* bucket.keys();
  }

  *values(): MapIterator<V> {
    for (const bucket of this.buckets) yield* bucket.values();
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }

  get [Symbol.toStringTag](): string {
    return 'SnapshotMap';
  }

  private replaced(index: number, bucket: ReadonlyMap<string, V>, size: number): SnapshotMap<V> {
    const buckets = this.buckets.slice();
    buckets[index] = bucket;
    return new SnapshotMap(buckets, size);
  }
}
