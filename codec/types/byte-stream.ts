import { StreamOutsideConnectionError } from '../errors.js';
import { AmpType } from './amp-type.js';
import { IntegerNumberType } from './integer.js';

/** What a sender may pass: the whole value, or its pieces as they come (a Readable is an AsyncIterable). */
export type ByteStreamSource = Uint8Array | string | Iterable<Uint8Array> | AsyncIterable<Uint8Array | string>;

/** What a responder gets: the bytes as they arrive, in pieces of at most 65535 bytes. */
export interface ReceivedByteStream extends AsyncIterable<Buffer> {
  readonly streamId: number;
  /** The whole value in one buffer: for values known to be small enough to hold. */
  bytes(): Promise<Buffer>;
  /** The whole value decoded as UTF-8 (joined first: a piece may end inside a character). */
  text(): Promise<string>;
}

/** A stream the connection has opened: the box carries its id in place of the value. */
export class StreamReference {
  constructor(readonly streamId: number) {}
}

/**
 * A value of any size (docs/amp-protocol.md §7). On the wire it is an Integer naming a stream that
 * the sender opened with StreamOpen and fills with StreamWrite, so a Twisted peer sees ordinary
 * commands. The connection does the streaming; the codec only writes and reads the id.
 */
export class ByteStreamType extends AmpType<ReceivedByteStream, ByteStreamSource> {
  readonly name = 'ByteStream';
  /** Tells the schema that this argument needs a connection to travel. */
  readonly streamed = true;
  private readonly id = new IntegerNumberType();

  /** Writes the id of a stream the connection opened; the connection passes a StreamReference in place of the source. */
  encode(value: ByteStreamSource): string {
    const reference: unknown = value;
    if (reference instanceof StreamReference) return this.id.encode(reference.streamId);
    throw new StreamOutsideConnectionError();
  }

  decode(): ReceivedByteStream {
    throw new StreamOutsideConnectionError();
  }

  /** The stream id the box names; the connection turns it into the stream. */
  decodeStreamId(bytes: Buffer): number {
    return this.id.decode(bytes);
  }
}

export function isStreamedType(type: AmpType<unknown, unknown>): type is ByteStreamType {
  return (type as Partial<ByteStreamType>).streamed === true;
}
