import { pinSlabOf } from './slab-leases.js';
import type { RangeDecoder } from './types/amp-type.js';

/**
 * A box as the decoder delivers it: a read-only map from key to value bytes, built without a `Map`
 * and without a Buffer view per value until one is asked for. A small box is one flat array
 * (key, chunk, start, end per pair), which is what keeps decoding at millions of boxes per second;
 * a box with many keys gets an index so a hostile peer cannot make lookups quadratic.
 */
const STRIDE = 4;
/** Past this many pairs, lookups go through a Map index. */
const INDEXED_ABOVE = 16;

export class DecodedBox implements ReadonlyMap<string, Buffer> {
  /** key, chunk (or the materialised view), start (-1 once materialised), end — per pair. */
  private readonly slots: (string | Buffer | number)[] = [];
  /** How many of `slots` this box uses: a reused box keeps the array it grew (see `reset`). */
  private used = 0;
  private index: Map<string, number> | undefined;
  /** Set by `disown()`: the consumer kept nothing of the box but leased views (codec/slab-leases.ts). */
  private disownedByConsumer = false;

  /** Adds a pair whose value is `chunk[start, end)`; a repeated key replaces the value (last wins). */
  add(key: string, chunk: Buffer, start: number, end: number): void {
    const at = this.find(key);
    const slots = this.slots;
    if (at >= 0) {
      slots[at + 1] = chunk;
      slots[at + 2] = start;
      slots[at + 3] = end;
      return;
    }
    const next = this.used;
    slots[next] = key;
    slots[next + 1] = chunk;
    slots[next + 2] = start;
    slots[next + 3] = end;
    this.used = next + STRIDE;
    if (this.index !== undefined) this.index.set(key, next);
    else if (this.used / STRIDE > INDEXED_ABOVE) {
      this.index = new Map();
      for (let i = 0; i < this.used; i += STRIDE) this.index.set(slots[i] as string, i);
    }
  }

  /**
   * The consumer promises it keeps neither this box nor any view of its values, except views it
   * leased (codec/slab-leases.ts): the read slab behind them may then be read into again, and the
   * decoder reuses the box itself for a later one. Call it from within the box's delivery, after
   * taking the leases, and read nothing of the box after the delivery returns.
   */
  disown(): void {
    this.disownedByConsumer = true;
  }

  get disowned(): boolean {
    return this.disownedByConsumer;
  }

  /**
   * @internal The decoder's: an empty box again, for reuse once disowned; false for a box too large
   * to be worth keeping. The array keeps its size.
   */
  reset(): boolean {
    if (this.index !== undefined) return false;
    const slots = this.slots;
    // The values' chunks go, so that the box holds no slab alive; the keys are internalized strings.
    for (let i = 1; i < this.used; i += STRIDE) slots[i] = 0;
    this.used = 0;
    this.disownedByConsumer = false;
    return true;
  }

  /** Whether a value of this box lies in `memory`. */
  refersTo(memory: ArrayBufferLike): boolean {
    const slots = this.slots;
    for (let i = 1; i < this.used; i += STRIDE) if ((slots[i] as Buffer).buffer === memory) return true;
    return false;
  }

  /** The box has left the decoder and was not disowned: its values may be read at any later time. */
  pinSlabs(): void {
    const slots = this.slots;
    for (let i = 1; i < this.used; i += STRIDE) pinSlabOf(slots[i] as Buffer);
  }

  get size(): number {
    return this.used / STRIDE;
  }

  get(key: string): Buffer | undefined {
    const at = this.find(key);
    return at < 0 ? undefined : this.view(at);
  }

  /**
   * Hands the value's bytes to `reader` as `chunk[start, end)` without making a Buffer view of them
   * (a view costs an allocation; a tag or a command name is read once and dropped).
   */
  read<T>(key: string, reader: (chunk: Buffer, start: number, end: number) => T): T | undefined {
    const at = this.find(key);
    if (at < 0) return undefined;
    const slots = this.slots;
    const chunk = slots[at + 1] as Buffer;
    const start = slots[at + 2] as number;
    return start < 0 ? reader(chunk, 0, chunk.length) : reader(chunk, start, slots[at + 3] as number);
  }

  /** @internal Where `key`'s pair is, for `decodeAt`; -1 when the box has no such key. */
  position(key: string): number {
    return this.find(key);
  }

  /** @internal Decodes the pair at `at` (from `position`) in place: no Buffer view of the value is made. */
  decodeAt<T>(at: number, decoder: RangeDecoder<T>): T {
    const slots = this.slots;
    const chunk = slots[at + 1] as Buffer;
    const start = slots[at + 2] as number;
    return start < 0 ? decoder.decodeRange(chunk, 0, chunk.length) : decoder.decodeRange(chunk, start, slots[at + 3] as number);
  }

  has(key: string): boolean {
    return this.find(key) >= 0;
  }

  *keys(): MapIterator<string> {
    for (let i = 0; i < this.used; i += STRIDE) yield this.slots[i] as string;
  }

  *values(): MapIterator<Buffer> {
    for (let i = 0; i < this.used; i += STRIDE) yield this.view(i);
  }

  *entries(): MapIterator<[string, Buffer]> {
    for (let i = 0; i < this.used; i += STRIDE) yield [this.slots[i] as string, this.view(i)];
  }

  [Symbol.iterator](): MapIterator<[string, Buffer]> {
    return this.entries();
  }

  forEach(callback: (value: Buffer, key: string, map: ReadonlyMap<string, Buffer>) => void, thisArg?: unknown): void {
    for (let i = 0; i < this.used; i += STRIDE) callback.call(thisArg, this.view(i), this.slots[i] as string, this);
  }

  get [Symbol.toStringTag](): string {
    return 'DecodedBox';
  }

  private find(key: string): number {
    if (this.index !== undefined) return this.index.get(key) ?? -1;
    const slots = this.slots;
    const used = this.used;
    for (let i = 0; i < used; i += STRIDE) if (slots[i] === key) return i;
    return -1;
  }

  private view(at: number): Buffer {
    const slots = this.slots;
    const start = slots[at + 2] as number;
    if (start < 0) return slots[at + 1] as Buffer;
    const view = (slots[at + 1] as Buffer).subarray(start, slots[at + 3] as number);
    slots[at + 1] = view;
    slots[at + 2] = -1;
    return view;
  }
}
