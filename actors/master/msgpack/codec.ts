/**
 * The msgpack frame codec of `msgpack_experimental_v7` (docs/master-worker-protocol.md §5): one map with string keys per
 * binary WebSocket frame. Text is msgpack `str` and bytes are `bin`, and the two must stay apart:
 * the worker writes `bin` blocks straight to files, and turns any `bin` it did not expect into text.
 * Node Buffers encode as `bin`, strings as `str`; decoded `bin` comes back as a Buffer.
 */
import { decode, encode } from '@msgpack/msgpack';
import { MsgpackEncodeError, MsgpackFrameError } from './errors.js';

/** A request: `op` names the call, `seq_number` is the sender's own counter. */
export interface MsgpackRequest {
  readonly op: string;
  readonly seq_number: number;
  readonly [field: string]: unknown;
}

/** The answer to one request, echoing its `seq_number`; on error `result` is the message. */
export interface MsgpackResponse {
  readonly op: 'response';
  readonly seq_number: number;
  readonly result: unknown;
  readonly is_exception?: true;
}

export type MsgpackMessage = Readonly<Record<string, unknown>>;

export function encodeMessage(message: MsgpackMessage): Buffer {
  try {
    // undefined fields are left out rather than sent as nil; a `result` must therefore be null.
    const bytes = encode(message, { ignoreUndefined: true });
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (error) {
    throw new MsgpackEncodeError(`cannot encode the '${String(message.op)}' message: ${(error as Error).message}`, { cause: error });
  }
}

/** `bin` values become Buffers (msgpack gives Uint8Array views into the frame). */
function withBuffers(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) value[index] = withBuffers(value[index]);
    return value;
  }
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = withBuffers(record[key]);
  }
  return value;
}

/** Decodes one frame; throws MsgpackFrameError unless it is a map. */
export function decodeMessage(frame: Uint8Array): MsgpackMessage {
  let value: unknown;
  try {
    value = decode(frame, { useBigInt64: false });
  } catch (error) {
    throw new MsgpackFrameError(`undecodable msgpack frame (${frame.byteLength} bytes): ${(error as Error).message}`, { cause: error });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new MsgpackFrameError(`a msgpack frame must hold a map, not ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  return withBuffers(value) as MsgpackMessage;
}

/** A request needs a string `op` and an integer `seq_number`; anything else is dropped. */
export function isRequestOrResponse(message: MsgpackMessage): message is MsgpackRequest {
  return typeof message.op === 'string' && Number.isInteger(message.seq_number);
}
