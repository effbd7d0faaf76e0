/** One encoded box: a single buffer, or parts that are written back to back. */
export type Frame = Buffer | readonly Buffer[];

/** Byte values larger than this go out as they are (writev) instead of being copied into the frame. */
export const ZERO_COPY_ABOVE = 8 * 1024;

/**
 * The number of one of our tags (lower-case hex, no leading zero, as we write them), or -1 for
 * bytes we could never have sent.
 */
export function parseTag(bytes: Buffer): number {
  return parseTagIn(bytes, 0, bytes.length);
}

/** As `parseTag`, for the tag at `chunk[start, end)`. */
export function parseTagIn(chunk: Buffer, start: number, end: number): number {
  const length = end - start;
  if (length === 0 || length > 12 || chunk[start] === 0x30) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const byte = chunk[i]!;
    let digit: number;
    if (byte >= 0x30 && byte <= 0x39) digit = byte - 0x30;
    else if (byte >= 0x61 && byte <= 0x66) digit = byte - 0x57;
    else return -1;
    value = value * 16 + digit;
  }
  return value;
}
