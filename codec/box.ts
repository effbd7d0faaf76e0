/**
 * An AMP box: an ordered map from key to value bytes.
 *
 * Keys are held as latin1 strings so that every key byte maps to one UTF-16 code unit: sorting the
 * strings then sorts the raw bytes exactly as Twisted does, and no key is ever mis-decoded.
 */
export type AmpBox = ReadonlyMap<string, Buffer>;

/**
 * What a box may hold on the way out: raw bytes, or text that is written as UTF-8.
 * Text lets a box be encoded with a single allocation (no intermediate Buffer per value).
 */
export type WireValue = Uint8Array | string;

export type OutgoingBox = ReadonlyMap<string, WireValue> | Readonly<Record<string, WireValue>>;

export const MAX_KEY_LENGTH = 0xff;
export const MAX_VALUE_LENGTH = 0xffff;
/**
 * The most bytes a received box may take, terminator included, by default (docs/amp-protocol.md
 * §1.4). AMP itself sets no limit on the number of keys, and a box is held whole until it ends, so
 * without one a peer could make a connection hold any amount of memory. 256 values of 64 KiB fit.
 */
export const DEFAULT_MAX_BOX_BYTES = 16 * 1024 * 1024 + 64 * 1024;

/** Reserved keys of the dispatch layer (docs/amp-protocol.md §2.1). */
export const COMMAND = '_command';
export const ASK = '_ask';
export const ANSWER = '_answer';
export const ERROR = '_error';
export const ERROR_CODE = '_error_code';
export const ERROR_DESCRIPTION = '_error_description';

/** Builds an incoming-style box from text or bytes, for tests and raw calls. */
export function makeBox(fields: Readonly<Record<string, WireValue>>): AmpBox {
  const box = new Map<string, Buffer>();
  for (const [key, value] of Object.entries(fields)) {
    box.set(key, typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value));
  }
  return box;
}
