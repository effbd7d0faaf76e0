import { StreamFailedError, UnknownStreamError } from '../../codec/errors.js';
import { IncomingByteStream } from './incoming-stream.js';

export interface StreamRegistryOptions {
  /** Bytes a stream holds unread before its writes are answered late; default 256 KiB. */
  readonly highWaterMark?: number;
}

const DEFAULT_HIGH_WATER_MARK = 256 * 1024;

/**
 * The receiving side of ByteStreams (docs/amp-protocol.md §3.7): ids from one counter (Twisted
 * trial's manager shares one registry among all its workers), the chunks of each stream, and which
 * command has claimed it. A stream is forgotten once it is both claimed and closed.
 */
export class StreamRegistry {
  private next = 0;
  private readonly streams = new Map<number, IncomingByteStream>();
  private readonly claimed = new Set<number>();
  private readonly highWaterMark: number;

  constructor(options: StreamRegistryOptions = {}) {
    this.highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  }

  /** Streams opened and not yet both claimed and closed. */
  get size(): number {
    return this.streams.size;
  }

  open(): number {
    const id = this.next++;
    this.streams.set(id, new IncomingByteStream(id, this.highWaterMark));
    return id;
  }

  /** StreamWrite: resolves when the stream has room again (see IncomingByteStream.push). */
  write(id: number, data: Buffer): void | Promise<void> {
    const stream = this.streams.get(id);
    if (stream === undefined || !stream.isOpen) throw new UnknownStreamError(id);
    return stream.push(data);
  }

  /** StreamClose: the end, or the sender's reason for giving up. */
  close(id: number, failure?: string): void {
    const stream = this.streams.get(id);
    if (stream === undefined || !stream.isOpen) throw new UnknownStreamError(id);
    if (failure === undefined) stream.end();
    else stream.fail(new StreamFailedError(id, failure));
    if (this.claimed.has(id)) this.forget(id);
  }

  /** The command that names the stream takes it; a stream can be claimed once. */
  claim(id: number): IncomingByteStream {
    const stream = this.streams.get(id);
    if (stream === undefined || this.claimed.has(id)) throw new UnknownStreamError(id);
    this.claimed.add(id);
    if (!stream.isOpen) this.forget(id);
    return stream;
  }

  /** Claims a stream whose chunks all came before the command that names it (trial), and ends it. */
  take(id: number): Buffer[] {
    const chunks = this.claim(id).takeAll();
    this.forget(id);
    return chunks;
  }

  /** The connection ended: every stream still open fails with its reason. */
  failAll(reason: Error): void {
    for (const stream of this.streams.values()) stream.fail(reason);
    this.streams.clear();
    this.claimed.clear();
  }

  private forget(id: number): void {
    this.streams.delete(id);
    this.claimed.delete(id);
  }
}

/**
 * A connection's registry: none unless asked for (StreamOpen then gets UNHANDLED, as from a Twisted
 * peer), its own with `true` (failed when the connection ends), or one shared among connections.
 */
export function connectionStreams(option: StreamRegistry | boolean | undefined, closed: Promise<Error>): StreamRegistry | undefined {
  if (option === undefined || option === false) return undefined;
  if (option !== true) return option;
  const own = new StreamRegistry();
  void closed.then((reason) => own.failAll(reason));
  return own;
}
