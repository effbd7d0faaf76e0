import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { FrameSink } from '../../codec/encode-box.js';
import type { Frame } from './frame.js';
import { isLeasedForSending, releaseView } from '../../codec/slab-leases.js';

/** Each slab holds the small frames of many ticks; one is never written over, only replaced. */
const SLAB_BYTES = 64 * 1024;
/** Frames up to this size are copied into the slab; larger ones are written as they are. */
const COPY_UP_TO = 2048;
/**
 * A batch this large leaves at once (measured: 8–16 KiB best on loopback): the peer starts on the
 * first answers while we make the rest, instead of both ends taking turns over whole batches.
 */
const EARLY_FLUSH_BYTES = 16 * 1024;

/**
 * Coalesces the frames written in one tick into as few socket writes as possible: small frames are
 * copied back to back into a slab and leave as one Buffer, so a thousand pipelined answers cost one
 * `socket.write` (one stream request, one syscall) rather than a thousand queued writes and an
 * iovec a thousand entries long. Large frames (60 KB values) are referenced, not copied, and the
 * batch then leaves in one writev.
 *
 * A slab region handed to the socket is never reused: the socket may still hold it when the next
 * tick writes, so a full slab is simply replaced and left to the garbage collector.
 */
export class WriteBatch implements FrameSink {
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  /** Where the unsent part of the slab starts, and where the next frame goes. */
  private slabStart = 0;
  private slabEnd = 0;
  /** Sealed pieces waiting to be written, in order, before the open slab segment. */
  private readonly pieces: Buffer[] = [];
  private pendingBytes = 0;
  private flushDue = false;

  /**
   * Whether a written buffer is copied out (a kernel socket, or TLS): only then is it done with once
   * written. An in-memory stream hands the very buffer to its reader.
   */
  private copiesWrites: boolean;

  constructor(
    private socket: Writable,
    /** Called after every frame accepted, for the transport's write-buffer check. */
    private readonly afterAdd: () => void,
  ) {
    this.copiesWrites = socket instanceof Socket;
  }

  /** Bytes accepted but not yet handed to the socket. */
  get pending(): number {
    return this.pendingBytes;
  }

  /** After a StartTLS the batch writes to the TLS socket; it is empty by then (flushed first). */
  retarget(socket: Writable): void {
    this.socket = socket;
    this.copiesWrites = socket instanceof Socket;
  }

  add(frame: Frame): void {
    if (Array.isArray(frame)) for (const part of frame as readonly Buffer[]) this.addBuffer(part);
    else this.addBuffer(frame as Buffer);
    this.accepted();
  }

  // FrameSink: a box encoded in place, straight into the slab.

  room(size: number): Buffer {
    if (this.slabEnd + size > this.slab.length) {
      this.sealSlabSegment();
      this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, size));
      this.slabStart = this.slabEnd = 0;
    }
    return this.slab;
  }

  get sinkOffset(): number {
    return this.slabEnd;
  }

  commit(end: number): void {
    this.pendingBytes += end - this.slabEnd;
    this.slabEnd = end;
    this.accepted();
  }

  private accepted(): void {
    if (!this.flushDue) {
      this.flushDue = true;
      process.nextTick(this.flush);
    }
    if (this.pendingBytes >= EARLY_FLUSH_BYTES) this.writeOut();
    this.afterAdd();
  }

  /** Hands everything accepted so far to the socket; runs once per tick on its own. */
  readonly flush = (): void => {
    this.flushDue = false;
    this.writeOut();
  };

  /** The connection has closed: what was not written never will be. */
  discard(): void {
    this.pieces.length = 0;
    this.slabStart = this.slabEnd;
    this.pendingBytes = 0;
  }

  private addBuffer(buffer: Buffer): void {
    const length = buffer.length;
    this.pendingBytes += length;
    if (length > COPY_UP_TO) {
      this.sealSlabSegment();
      this.pieces.push(buffer);
      return;
    }
    const slab = this.room(length);
    let at = this.slabEnd;
    // Boxes of pipelined calls are tens of bytes: a loop beats a call into C++ for each.
    if (length <= 64) for (let i = 0; i < length; i++) slab[at++] = buffer[i]!;
    else at += buffer.copy(slab, at);
    this.slabEnd = at;
  }

  private sealSlabSegment(): void {
    if (this.slabEnd === this.slabStart) return;
    this.pieces.push(this.slab.subarray(this.slabStart, this.slabEnd));
    this.slabStart = this.slabEnd;
  }

  private writeOut(): void {
    if (this.pendingBytes === 0) return;
    this.pendingBytes = 0;
    const socket = this.socket;
    const pieces = this.pieces;
    if (pieces.length === 0) {
      socket.write(this.slab.subarray(this.slabStart, this.slabEnd));
      this.slabStart = this.slabEnd;
      return;
    }
    this.sealSlabSegment();
    if (pieces.length === 1) {
      socket.write(pieces[0]!, this.releaseWhenWritten(pieces[0]!));
    } else {
      // Several pieces leave in one writev.
      socket.cork();
      for (const piece of pieces) socket.write(piece, this.releaseWhenWritten(piece));
      socket.uncork();
    }
    pieces.length = 0;
  }

  /**
   * A large value leased to the connection (a download block from the master's FileReader, whose
   * memory is marked for sending) is done with once the socket has written it, whether or not the
   * write succeeded: its buffer may then be read into again (codec/slab-leases.ts). A lease on
   * received memory is its holder's to release, never the connection's.
   */
  private releaseWhenWritten(piece: Buffer): (() => void) | undefined {
    return this.copiesWrites && piece.length > COPY_UP_TO && isLeasedForSending(piece) ? () => releaseView(piece) : undefined;
  }
}
