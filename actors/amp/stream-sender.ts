import { MAX_VALUE_LENGTH } from '../../codec/box.js';
import type { ArgumentsOf, Command, ResponseOf } from '../../codec/command.js';
import { CallCancelledError } from '../../codec/errors.js';
import { StreamClose, StreamOpen, StreamWrite } from '../../codec/protocols/streams.js';
import { StreamReference, type ByteStreamSource } from '../../codec/types/byte-stream.js';
import type { CallOptions } from './dispatcher.js';

/** What the sender needs of a connection: ordinary calls, and its write backpressure. */
export interface StreamSenderHost {
  callRemote<C extends Command<any, any>>(command: C, args: ArgumentsOf<C>, options?: CallOptions): Promise<ResponseOf<C>>;
  whenWritable(): Promise<void>;
}

/** StreamWrites sent and not yet answered, per stream: the receiver's answers are the credit. */
export const STREAM_WINDOW = 8;

/** Sends the command itself, its ByteStream arguments replaced by stream references. */
type SendCommand<C extends Command<any, any>> = (args: ArgumentsOf<C>, options?: CallOptions) => Promise<ResponseOf<C>>;

/**
 * A call with ByteStream arguments (docs/amp-protocol.md §3.7): a StreamOpen per argument, then the
 * command naming the stream ids (so the responder reads while the chunks come), then each stream's
 * chunks as StreamWrites, then StreamClose. The call fails with the source's error if a source
 * fails, with CallCancelledError if `signal` fires; either way the receiver's stream fails too. Once
 * the answer has come (the responder finished or failed) the rest of the value is not sent.
 */
export function callWithStreams<C extends Command<any, any>>(
  host: StreamSenderHost,
  send: SendCommand<C>,
  command: C,
  args: ArgumentsOf<C>,
  options: CallOptions = {},
): Promise<ResponseOf<C>> {
  const given = args as Record<string, unknown>;
  const keys = command.arguments.streamedKeys.filter((key) => given[key] !== undefined && given[key] !== null);
  // Argument errors throw now, as for any call, before a stream is opened for nothing.
  command.encodeRequest(undefined, withReferences(given, keys, keys.map(() => 0)) as ArgumentsOf<C>);
  return streamCall(host, send, command, given, keys, options);
}

async function streamCall<C extends Command<any, any>>(
  host: StreamSenderHost,
  send: SendCommand<C>,
  command: C,
  given: Record<string, unknown>,
  keys: readonly string[],
  options: CallOptions,
): Promise<ResponseOf<C>> {
  const signal = options.signal;
  const ids: number[] = [];
  try {
    for (const _ of keys) {
      throwIfCancelled(command, signal);
      ids.push((await host.callRemote(StreamOpen, {})).streamId);
    }
    throwIfCancelled(command, signal);
  } catch (error) {
    for (const streamId of ids) closeQuietly(host, streamId, 'cancelled by the sender');
    throw error;
  }
  const answer = send(withReferences(given, keys, ids) as ArgumentsOf<C>, options);
  let answered = false;
  answer.then(
    () => (answered = true),
    () => (answered = true),
  );
  const stopped = () => answered || signal?.aborted === true;
  try {
    await Promise.all(keys.map((key, i) => sendStream(host, ids[i]!, given[key] as ByteStreamSource, stopped, signal)));
  } catch (error) {
    answer.catch(() => {});
    throw error;
  }
  return answer;
}

/** The arguments with each ByteStream source replaced by a reference to its stream. */
function withReferences(given: Record<string, unknown>, keys: readonly string[], ids: readonly number[]): Record<string, unknown> {
  const values: Record<string, unknown> = { ...given };
  keys.forEach((key, i) => (values[key] = new StreamReference(ids[i]!)));
  return values;
}

async function sendStream(
  host: StreamSenderHost,
  streamId: number,
  source: ByteStreamSource,
  stopped: () => boolean,
  signal: AbortSignal | undefined,
): Promise<void> {
  const unanswered = new Set<Promise<unknown>>();
  let failure: string | undefined;
  try {
    pieces: for await (const piece of piecesOf(source)) {
      for (let offset = 0; offset < piece.length; offset += MAX_VALUE_LENGTH) {
        while (unanswered.size >= STREAM_WINDOW) await Promise.race(unanswered);
        await host.whenWritable();
        if (stopped()) break pieces;
        const write = host.callRemote(StreamWrite, { streamId, data: piece.subarray(offset, offset + MAX_VALUE_LENGTH) });
        unanswered.add(write);
        const settle = () => unanswered.delete(write);
        write.then(settle, settle);
      }
    }
    await Promise.all(unanswered);
  } catch (error) {
    // Once answered or cancelled, a refused write says nothing new: the answer tells the outcome.
    if (stopped()) return;
    failure = error instanceof Error ? error.message : String(error);
    throw error;
  } finally {
    if (failure === undefined && signal?.aborted === true) failure = 'cancelled by the sender';
    closeQuietly(host, streamId, failure);
  }
}

/** Chunks of the source as bytes; the sender cuts them to at most 65535 bytes. */
async function* piecesOf(source: ByteStreamSource): AsyncGenerator<Uint8Array> {
  if (typeof source === 'string') {
    yield Buffer.from(source, 'utf8');
    return;
  }
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  for await (const piece of source as AsyncIterable<Uint8Array | string>) {
    yield typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
  }
}

/** The close is best effort: the connection may be gone, or the receiver may have forgotten the stream. */
function closeQuietly(host: StreamSenderHost, streamId: number, failure: string | undefined): void {
  host.callRemote(StreamClose, { streamId, failure }).catch(() => {});
}

function throwIfCancelled(command: Command<any, any>, signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new CallCancelledError(command.name, { cause: signal.reason });
}

/**
 * A stream in Twisted trial's order (docs/trial-protocol.md §4.3): StreamOpen, then each chunk as it
 * is, each write awaited before the next; the command that names the returned id comes after.
 */
export async function sendChunks(host: StreamSenderHost, chunks: Iterable<Uint8Array>): Promise<number> {
  const { streamId } = await host.callRemote(StreamOpen, {});
  for (const data of chunks) await host.callRemote(StreamWrite, { streamId, data });
  return streamId;
}
