import './buffer-fast-paths.js';
import { type AmpBox, DEFAULT_MAX_BOX_BYTES, MAX_KEY_LENGTH, MAX_VALUE_LENGTH } from './box.js';
import { DecodedBox } from './decoded-box.js';
import { BoxTooLargeError, KeyTooLongError } from './errors.js';
import { FramingState, type FramingStateCode } from './framing-states.js';
import { pinSlabOf } from './slab-leases.js';
import { ReusableBuffers } from './reusable-buffers.js';

/** Smaller straddling values go into Node's pooled allocations: a whole reused buffer each would waste more. */
const SMALLEST_REUSED_COPY = 16 * 1024;
/** About one per slab whose blocks are still waiting for the disk. */
const KEPT_COPY_BUFFERS = 8;

const INIT = FramingState.init;
const KEY = FramingState.key;
const VALUE = FramingState.value;

/** One length-prefixed string read by the decoder, reported only when tracing. */
export interface FramingTrace {
  readonly length: number;
  readonly from: FramingStateCode;
  readonly to: FramingStateCode;
}

/** What ends a stream for good. */
export type FramingError = KeyTooLongError | BoxTooLargeError;

export interface BoxDecoderHandlers {
  /** Called for every complete box, empty ones included (classifying them is the dispatcher's job). */
  onBox(box: AmpBox): void;
  /**
   * Called once when a key prefix over 255 arrives, or a string that takes the box past its limit;
   * the decoder ignores all later input.
   */
  onError(error: FramingError): void;
  /** Optional per-string hook for trace mode and model-based tests. */
  onTrace?: (trace: FramingTrace) => void;
}

/**
 * Streaming AMP box parser with integer states (docs/amp-protocol.md §1.3), in the style of ws's receiver: one
 * loop over the chunk, values as zero-copy views into it, and a copy only for a string that
 * straddles two chunks not adjacent in memory. Chunk splits can fall anywhere, one byte at a time included.
 *
 * `pause()` may be called from `onBox` to stop mid-chunk (flow control, protocol switch): the
 * unparsed bytes stay queued until `resume()`, or are handed over by `takeUnparsed()`.
 */
export class BoxDecoder {
  state: FramingStateCode = INIT;
  private box: DecodedBox | undefined;
  /**
   * A box its consumer disowned, emptied for the next one: a caller whose answers decode to copies
   * (text, numbers) disowns every box, and then no box is allocated per answer.
   */
  private spare: DecodedBox | undefined;
  private key = '';
  /** Raw bytes of a string that has started but not finished, prefix included. */
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** Chunks not yet parsed because the decoder is paused. */
  private queued: Buffer[] = [];
  private paused = false;
  private failed = false;
  /**
   * The key seen last at each position of a box. Consecutive boxes nearly always repeat their keys
   * in the same (sorted) order, so comparing bytes against this beats allocating a new string.
   */
  private readonly recentKeys: string[] = [];
  private keyIndex = 0;
  /** Bytes of the open box so far, prefixes included (see maxBoxBytes): checked once per string, not per prefix. */
  private boxBytes = 0;
  /** A chunk of the one being parsed whose slab is pinned already (see `pin`). */
  private pinnedChunk: Buffer | undefined;
  /** The open box began before the chunk being parsed: its values may lie in other chunks. */
  private boxSpansChunks = false;
  /**
   * Where large straddling values are copied. A bulk transfer straddles two slabs once per slab, and
   * a fresh 60 KB copy each time was most of what a 1 GiB download still allocated once its slabs
   * went round (`npm run bench -- transfer`).
   */
  private readonly copies = new ReusableBuffers(MAX_VALUE_LENGTH, KEPT_COPY_BUFFERS);
  /** A copy buffer may be reused only once the open box no longer refers to it. */
  private readonly notHeld = (buffer: Buffer): boolean => !this.holds(buffer.buffer);

  constructor(
    private readonly handlers: BoxDecoderHandlers,
    /** A box may not take more bytes than this, prefixes and terminator included (docs/amp-protocol.md §1.4). */
    private readonly maxBoxBytes = DEFAULT_MAX_BOX_BYTES,
  ) {}

  get isPaused(): boolean {
    return this.paused;
  }

  get hasFailed(): boolean {
    return this.failed;
  }

  /**
   * Bytes received but not parsed yet: an incomplete string plus chunks queued while paused. Strings
   * already read into a box that is still open are not counted.
   */
  get bufferedLength(): number {
    let n = this.partialLength;
    for (const chunk of this.queued) n += chunk.length;
    return n;
  }

  push(chunk: Buffer): void {
    if (this.failed || chunk.length === 0) return;
    if (this.paused) {
      this.queued.push(chunk);
      return;
    }
    this.consume(chunk);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    while (!this.paused && !this.failed && this.queued.length > 0) {
      this.consume(this.queued.shift()!);
    }
  }

  /**
   * Stops parsing for good and returns every byte not yet parsed, in order: a protocol switch hands
   * these to the new protocol. Call it after `pause()`, once `push` has returned.
   */
  takeUnparsed(): Buffer[] {
    const rest = [...this.partial, ...this.queued];
    // Whoever gets them may keep them: their slabs are never read into again.
    for (const chunk of rest) pinSlabOf(chunk);
    this.partial = [];
    this.partialLength = 0;
    this.queued = [];
    this.failed = true;
    return rest;
  }

  /**
   * Whether the decoder still holds bytes in `memory`: a string not yet finished, chunks queued while
   * paused, or values of the box still open. A read slab it holds is not read into again.
   */
  holds(memory: ArrayBufferLike): boolean {
    if (this.failed) return true;
    for (const chunk of this.partial) if (chunk.buffer === memory) return true;
    for (const chunk of this.queued) if (chunk.buffer === memory) return true;
    return this.box?.refersTo(memory) ?? false;
  }

  private consume(chunk: Buffer): void {
    if (this.state !== INIT || this.partialLength > 0) this.boxSpansChunks = true;
    let offset = 0;
    if (this.partialLength > 0) {
      offset = this.completePartial(chunk);
      if (offset >= 0) this.parse(chunk, offset);
    } else this.parse(chunk, offset);
    // Not kept past the chunk: an idle connection must not hold its last slab through it.
    this.pinnedChunk = undefined;
  }

  /**
   * Adds `chunk` to a straddling string. Returns where parsing of `chunk` continues, or -1 when the
   * string is still incomplete (or the stream failed or paused). Because earlier chunks did not
   * complete the string, it always ends inside this chunk.
   */
  private completePartial(chunk: Buffer): number {
    this.partial.push(chunk);
    this.partialLength += chunk.length;
    if (this.partialLength < 2) return -1;
    const first = this.partial[0]!;
    const length = first.length >= 2 ? (first[0]! << 8) | first[1]! : (first[0]! << 8) | this.partial[1]![0]!;
    if (length > MAX_KEY_LENGTH && this.state !== VALUE) {
      this.fail(new KeyTooLongError(false, length));
      return -1;
    }
    const needed = 2 + length;
    if (this.partialLength < needed) return -1;
    const resumeAt = chunk.length - (this.partialLength - needed);
    const joined = adjacentView(this.partial, needed) ?? this.copyPartial(length);
    this.partial = [];
    this.partialLength = 0;
    this.string(joined, joined.length - length, joined.length);
    if (this.paused || this.failed) {
      if (!this.failed && resumeAt < chunk.length) this.queued.unshift(chunk.subarray(resumeAt));
      return -1;
    }
    return resumeAt;
  }

  /** The straddling string's body, copied out of its pieces. */
  private copyPartial(length: number): Buffer {
    const room = length >= SMALLEST_REUSED_COPY ? this.copies.take(this.notHeld) : undefined;
    const body = room === undefined ? Buffer.allocUnsafe(length) : room.subarray(0, length);
    let copied = 0;
    let skip = 2;
    for (const piece of this.partial) {
      if (copied === length) break;
      if (skip >= piece.length) {
        skip -= piece.length;
        continue;
      }
      copied += piece.copy(body, copied, skip, Math.min(piece.length, skip + length - copied));
      skip = 0;
    }
    return body;
  }

  private parse(buf: Buffer, start: number): void {
    const end = buf.length;
    let pos = start;
    while (pos + 2 <= end) {
      const length = (buf[pos]! << 8) | buf[pos + 1]!;
      const state = this.state;
      if (length > MAX_KEY_LENGTH && state !== VALUE) {
        this.fail(new KeyTooLongError(false, length));
        return;
      }
      const bodyStart = pos + 2;
      const bodyEnd = bodyStart + length;
      if (bodyEnd > end) break;
      pos = bodyEnd;
      this.string(buf, bodyStart, bodyEnd);
      if (this.paused || this.failed) {
        if (!this.failed && pos < end) this.queued.unshift(buf.subarray(pos));
        return;
      }
    }
    if (pos < end) {
      this.partial.push(pos === 0 ? buf : buf.subarray(pos));
      this.partialLength = end - pos;
    }
  }

  /** The three transitions of docs/amp-protocol.md §1.3 for one complete string. */
  private string(buf: Buffer, bodyStart: number, bodyEnd: number): void {
    const state = this.state;
    const length = bodyEnd - bodyStart;
    const boxBytes = (this.boxBytes += 2 + length);
    if (boxBytes > this.maxBoxBytes) {
      this.fail(new BoxTooLargeError(this.maxBoxBytes, boxBytes, length));
      return;
    }
    if (state === VALUE) {
      this.box!.add(this.key, buf, bodyStart, bodyEnd);
      this.state = KEY;
    } else if (length === 0) {
      const box = state === INIT ? this.newBox() : this.box!;
      this.box = undefined;
      this.state = INIT;
      this.boxBytes = 0;
      this.handlers.onTrace?.({ length, from: state, to: INIT });
      try {
        this.handlers.onBox(box);
      } finally {
        if (!box.disowned) this.pin(box, buf);
        else {
          this.boxSpansChunks = false;
          if (box.reset()) this.spare = box;
        }
      }
      return;
    } else {
      if (state === INIT) {
        this.box = this.newBox();
        this.keyIndex = 0;
      }
      this.key = this.readKey(buf, bodyStart, bodyEnd);
      this.state = VALUE;
    }
    this.handlers.onTrace?.({ length, from: state, to: this.state });
  }

  private newBox(): DecodedBox {
    const spare = this.spare;
    if (spare === undefined) return new DecodedBox();
    this.spare = undefined;
    return spare;
  }

  /**
   * A box its consumer did not disown may be read from at any time: its slabs are never read into
   * again (codec/slab-leases.ts). A box that began in the chunk being parsed lies wholly in it, and
   * consecutive boxes nearly always do: that chunk's slab is looked up once, not once per box.
   */
  private pin(box: DecodedBox, chunk: Buffer): void {
    if (this.boxSpansChunks) {
      this.boxSpansChunks = false;
      box.pinSlabs();
    }
    if (chunk !== this.pinnedChunk) {
      pinSlabOf(chunk);
      this.pinnedChunk = chunk;
    }
  }

  private readKey(buf: Buffer, start: number, end: number): string {
    const index = this.keyIndex++;
    const recent = this.recentKeys[index];
    if (recent !== undefined && recent.length === end - start) {
      let i = 0;
      while (i < recent.length && recent.charCodeAt(i) === buf[start + i]) i++;
      if (i === recent.length) return recent;
    }
    const key = internalized(buf.latin1Slice(start, end));
    if (index < 32) this.recentKeys[index] = key;
    return key;
  }

  private fail(error: FramingError): void {
    this.failed = true;
    this.partial = [];
    this.partialLength = 0;
    this.queued = [];
    this.handlers.onError(error);
  }
}

/**
 * The first `length` bytes of `pieces` as one view, when the pieces lie back to back in one
 * ArrayBuffer (consecutive socket reads into one slab: actors/read-slab.ts); else undefined.
 */
function adjacentView(pieces: readonly Buffer[], length: number): Buffer | undefined {
  const first = pieces[0]!;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < pieces.length && end - first.byteOffset < length; i++) {
    const piece = pieces[i]!;
    if (piece.buffer !== first.buffer || piece.byteOffset !== end) return undefined;
    end += piece.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, length);
}

/**
 * The same text as V8's internalized string: the one a literal such as '_ask' or a schema's argument
 * name is. Box lookups compare keys with those, and two internalized strings compare by pointer,
 * where a fresh string would be compared character by character every time.
 */
function internalized(key: string): string {
  const holder: Record<string, number> = { [key]: 0 };
  for (const name in holder) return name;
  return key;
}

/**
 * Parses a complete byte string into boxes, as Twisted's `parseString` does: a trailing incomplete
 * box is dropped. An over-long key ends parsing with the boxes so far (where `parseString` raises;
 * AmpList decoding, which must fail like Twisted, checks for it itself).
 */
export function parseBoxes(bytes: Buffer): AmpBox[] {
  const boxes: AmpBox[] = [];
  const decoder = new BoxDecoder({
    onBox: (box) => boxes.push(box),
    onError: () => {},
  });
  decoder.push(bytes);
  return boxes;
}
