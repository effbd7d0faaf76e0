/** `[u32 big-endian length][payload]` frames: the cheapest framing, for the raw TCP baseline. */
export function frame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  payload.copy(out, 4);
  return out;
}

/**
 * Splits a byte stream into frames, as cheaply as the AMP decoder splits boxes: a frame inside one
 * chunk is a zero-copy view, and only a frame that straddles chunks is copied. `withHeader` hands
 * out the frame with its length prefix (what an echo server writes back), otherwise the payload.
 */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingLength = 0;

  constructor(
    private readonly onFrame: (frame: Buffer) => void,
    private readonly withHeader = false,
  ) {}

  push(chunk: Buffer): void {
    let pos = 0;
    if (this.pendingLength > 0) {
      const total = this.pendingLength + chunk.length;
      if (total < 4) {
        this.pending.push(chunk);
        this.pendingLength = total;
        return;
      }
      const head = Buffer.concat([...this.pending, chunk.subarray(0, Math.max(0, 4 - this.pendingLength))]);
      const needed = 4 + head.readUInt32BE(0);
      if (total < needed) {
        this.pending.push(chunk);
        this.pendingLength = total;
        return;
      }
      pos = needed - this.pendingLength;
      const whole = Buffer.concat([...this.pending, chunk.subarray(0, pos)], needed);
      this.pending = [];
      this.pendingLength = 0;
      this.onFrame(this.withHeader ? whole : whole.subarray(4));
    }
    const end = chunk.length;
    while (pos + 4 <= end) {
      const length = chunk.readUInt32BE(pos);
      if (pos + 4 + length > end) break;
      this.onFrame(this.withHeader ? chunk.subarray(pos, pos + 4 + length) : chunk.subarray(pos + 4, pos + 4 + length));
      pos += 4 + length;
    }
    if (pos < end) {
      this.pending.push(pos === 0 ? chunk : chunk.subarray(pos));
      this.pendingLength = end - pos;
    }
  }
}
