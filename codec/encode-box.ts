import './buffer-fast-paths.js';
import {
  MAX_KEY_LENGTH,
  MAX_VALUE_LENGTH,
  type OutgoingBox,
  type WireValue,
} from './box.js';
import { EmptyKeyError, InvalidKeyError, KeyTooLongError, ValueTooLongError } from './errors.js';

/**
 * Serialises one box into a single Buffer: the pairs sorted by key bytes (as Twisted writes them),
 * then the `00 00` terminator. Every limit is checked, in sorted key order, before anything is
 * allocated, so an oversize box never produces a partial write.
 */
export function encodeBox(box: OutgoingBox): Buffer {
  const entries = box instanceof Map ? box : new Map(Object.entries(box));
  const keys = [...entries.keys()].sort(compareKeys);
  const values: (WireValue | undefined)[] = keys.map((key) => entries.get(key));
  return encodeSortedPairs(keys, values, true);
}

/**
 * Where a connection lets boxes be encoded in place: straight into its outgoing write buffer, so a
 * box costs neither an allocation of its own nor a second copy.
 */
export interface FrameSink {
  /** A buffer with room for `size` bytes from `sinkOffset`. */
  room(size: number): Buffer;
  /** Where the next box starts in the buffer `room` returned. */
  readonly sinkOffset: number;
  /** The box now ends at `end`: it is the sink's, to write out. */
  commit(end: number): void;
}

/**
 * A value as the schema encoder passes it: a wire value, or a tag as a number, written as its
 * lower-case hex digits (Twisted's tag format) straight into the frame, so that neither side makes
 * a string or a Buffer per tag.
 */
export type PairValue = WireValue | number;

/** Text up to this many UTF-16 units is measured while it is written; longer text is measured first, in C++. */
const SHORT_VALUE = 64;

/**
 * The fast path for schemas: `keys` are already validated and sorted; an `undefined` value means
 * the pair is absent (an optional argument that was not given).
 */
export function encodeSortedPairs(
  keys: readonly string[],
  values: readonly (PairValue | undefined)[],
  checkKeys = false,
): Buffer {
  return encodePairs(keys, values, checkKeys, Infinity) as Buffer;
}

/**
 * The same bytes as `encodeSortedPairs`, as a list of parts in which byte values over
 * `zeroCopyAbove` are the caller's own buffers rather than copies: a connection writes the parts
 * with one writev, so a 60 KB value costs neither a copy nor a 60 KB allocation. The caller must
 * not change those buffers until they are written.
 */
export function encodeSortedPairsParts(
  keys: readonly string[],
  values: readonly (PairValue | undefined)[],
  zeroCopyAbove: number,
): Buffer | Buffer[];
/**
 * With a `sink`, a box with no referenced value is written into it and `undefined` is returned; a
 * box that references large values is returned as parts, as without one.
 */
export function encodeSortedPairsParts(
  keys: readonly string[],
  values: readonly (PairValue | undefined)[],
  zeroCopyAbove: number,
  sink: FrameSink | undefined,
): Buffer | Buffer[] | undefined;
export function encodeSortedPairsParts(
  keys: readonly string[],
  values: readonly (PairValue | undefined)[],
  zeroCopyAbove: number,
  sink?: FrameSink,
): Buffer | Buffer[] | undefined {
  return encodePairs(keys, values, false, zeroCopyAbove, sink);
}

/**
 * One pass over the values sizes the box from above and checks every limit before a byte is
 * written (`valueBound`); a second writes it (`writeValue`). A schema's own encoder
 * (codec/compiled-encoder.ts) does the same with its keys written as constants.
 */
function encodePairs(
  keys: readonly string[],
  values: readonly (PairValue | undefined)[],
  checkKeys: boolean,
  zeroCopyAbove: number,
  sink?: FrameSink,
): Buffer | Buffer[] | undefined {
  let bound = 2;
  let referenced = 0;
  for (let i = 0; i < keys.length; i++) {
    const value = values[i];
    if (checkKeys) checkKey(keys[i]!);
    if (value === undefined) continue;
    const size = valueBound(keys[i]!, value);
    if (typeof value === 'object' && size > zeroCopyAbove) referenced += size;
    bound += 4 + keys[i]!.length + size;
  }
  const inSink = sink !== undefined && referenced === 0;
  const out = inSink ? sink.room(bound) : Buffer.allocUnsafe(bound - referenced);
  const parts: Buffer[] | undefined = referenced > 0 ? [] : undefined;
  let segmentStart = 0;
  let offset = inSink ? sink.sinkOffset : 0;
  for (let i = 0; i < keys.length; i++) {
    const value = values[i];
    if (value === undefined) continue;
    const key = keys[i]!;
    out[offset] = 0;
    out[offset + 1] = key.length;
    offset += 2;
    // Keys, tags, numbers and names are a few bytes: a plain loop beats a call into C++ for each.
    for (let j = 0; j < key.length; j++) out[offset++] = key.charCodeAt(j);
    if (parts !== undefined && typeof value === 'object' && value.length > zeroCopyAbove) {
      const length = value.length;
      out[offset] = length >>> 8;
      out[offset + 1] = length & 0xff;
      offset += 2;
      // A Buffer goes as itself: a view leased to the connection is released when it is written (WriteBatch).
      parts.push(out.subarray(segmentStart, offset), Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, length));
      segmentStart = offset;
      continue;
    }
    offset = writeValue(out, offset, value);
  }
  out[offset] = 0;
  out[offset + 1] = 0;
  offset += 2;
  if (inSink) {
    sink.commit(offset);
    return undefined;
  }
  if (parts !== undefined) {
    parts.push(out.subarray(segmentStart, offset));
    return parts;
  }
  return offset === out.length ? out : out.subarray(0, offset);
}

/**
 * The most bytes `value` can take, its length prefix not counted; throws if it could pass the value
 * limit. Short text is read once, while it is written: its bound is 3 bytes per UTF-16 unit (at most
 * 192 bytes). Longer text, bytes and tags are measured exactly.
 */
export function valueBound(key: string, value: PairValue): number {
  const size =
    typeof value === 'string'
      ? value.length <= SHORT_VALUE
        ? value.length * 3
        : Buffer.byteLength(value, 'utf8')
      : typeof value === 'number'
        ? hexLength(value)
        : value.length;
  if (size > MAX_VALUE_LENGTH) throw new ValueTooLongError(key, size);
  return size;
}

/**
 * Writes `value` and its length prefix at `offset`, where there is room for `valueBound` bytes and
 * the prefix, and returns where it ends. The prefix is filled in once the value is written.
 */
export function writeValue(out: Buffer, offset: number, value: PairValue): number {
  const start = offset + 2;
  let end: number;
  if (typeof value === 'string') {
    end = value.length <= SHORT_VALUE ? writeShortUtf8(out, start, value) : start + out.utf8Write(value, start);
  } else if (typeof value === 'number') {
    end = writeHex(out, start, value);
  } else {
    const length = value.length;
    if (length <= SHORT_VALUE) for (let j = 0; j < length; j++) out[start + j] = value[j]!;
    else out.set(value, start);
    end = start + length;
  }
  const length = end - start;
  out[offset] = length >>> 8;
  out[offset + 1] = length & 0xff;
  return end;
}

/** Byte order of latin1 keys is code-unit order, which is what `<` compares. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function checkKey(key: string): void {
  if (key.length === 0) throw new EmptyKeyError();
  if (key.length > MAX_KEY_LENGTH) throw new KeyTooLongError(true, key.length);
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) > 0xff) throw new InvalidKeyError(key);
  }
}

/**
 * Writes short text as utf8Write would (lone surrogates as U+FFFD), without a call into C++, and
 * returns where it ends. The caller has room for 3 bytes per UTF-16 unit.
 */
function writeShortUtf8(out: Buffer, offset: number, text: string): number {
  const n = text.length;
  let i = 0;
  // Most text is ASCII: one byte per unit, until the first that is not.
  for (; i < n; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) break;
    out[offset++] = code;
  }
  for (; i < n; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      out[offset++] = code;
      continue;
    }
    if (code < 0x800) {
      out[offset++] = 0xc0 | (code >> 6);
      out[offset++] = 0x80 | (code & 0x3f);
      continue;
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = text.charCodeAt(i + 1);
      if (code <= 0xdbff && isLowSurrogate(next)) {
        const point = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        out[offset++] = 0xf0 | (point >> 18);
        out[offset++] = 0x80 | ((point >> 12) & 0x3f);
        out[offset++] = 0x80 | ((point >> 6) & 0x3f);
        out[offset++] = 0x80 | (point & 0x3f);
        i++;
        continue;
      }
      code = 0xfffd;
    }
    out[offset++] = 0xe0 | (code >> 12);
    out[offset++] = 0x80 | ((code >> 6) & 0x3f);
    out[offset++] = 0x80 | (code & 0x3f);
  }
  return offset;
}

/** Hex digits of a tag number (a non-negative safe integer). */
function hexLength(tag: number): number {
  let digits = 1;
  for (let above = 16; tag >= above; above *= 16) digits++;
  return digits;
}

/** `tag` in lower-case hex, as `tag.toString(16)` spells it, and where it ends. */
function writeHex(out: Buffer, offset: number, tag: number): number {
  const end = offset + hexLength(tag);
  if (tag <= 0x7fffffff) {
    // Every tag of a connection that has made fewer than 2^31 calls: integer operations.
    for (let i = end - 1, rest = tag; i >= offset; i--, rest >>>= 4) {
      const digit = rest & 15;
      out[i] = digit < 10 ? 0x30 + digit : 0x57 + digit;
    }
    return end;
  }
  let rest = tag;
  for (let i = end - 1; i >= offset; i--) {
    const digit = rest % 16;
    out[i] = digit < 10 ? 0x30 + digit : 0x57 + digit;
    rest = (rest - digit) / 16;
  }
  return end;
}

/** NaN (past the end of the text) is not one. */
function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
