/**
 * What the server must do with a fuzzed stream, read independently of the decoder under test with
 * the plain three-state table of docs/amp-protocol.md §1.3 and the dispatch rules of §2.2 and §2.5.
 *
 * Only what is certain is predicted. A key prefix over 255, a box that is neither answer, error nor
 * command, an answer or error for a tag the server never sent (it sends the fuzzer no calls), and
 * an unhandled command that asks for no answer all oblige the server to drop the connection. A
 * stream of commands only may still be dropped (arguments that do not decode, a responder's
 * undeclared error), so there the fuzzer asks a probe and accepts either an answer or a close.
 */
import { SERVED_COMMANDS } from './stream-corpus.js';

const MAX_KEY_LENGTH = 0xff;

export type Expectation =
  /** The server must close the connection without being asked. */
  | 'close'
  /** Every box was a command and the stream ends between boxes: a probe gets an answer, or the server closed. */
  | 'between-boxes'
  /** The stream ends inside a box: the server waits for more until the fuzzer ends its side. */
  | 'mid-box';

export function expectationOf(stream: Buffer): Expectation {
  let state: 'init' | 'key' | 'value' = 'init';
  let keys = new Map<string, string>();
  let key = '';
  let pos = 0;
  while (pos + 2 <= stream.length) {
    const length = stream.readUInt16BE(pos);
    if (state !== 'value' && length > MAX_KEY_LENGTH) return 'close';
    if (pos + 2 + length > stream.length) break;
    const body = stream.toString('latin1', pos + 2, pos + 2 + length);
    pos += 2 + length;
    if (state === 'value') {
      keys.set(key, body);
      state = 'key';
    } else if (length === 0) {
      if (mustDrop(keys)) return 'close';
      keys = new Map();
      state = 'init';
    } else {
      key = body;
      state = 'value';
    }
  }
  return state === 'init' && pos === stream.length ? 'between-boxes' : 'mid-box';
}

/** A box the dispatcher cannot accept from a peer it never called (docs/amp-protocol.md §2.2, §2.5). */
function mustDrop(box: ReadonlyMap<string, string>): boolean {
  if (box.has('_answer') || box.has('_error')) return true;
  const command = box.get('_command');
  if (command === undefined) return true;
  return !box.has('_ask') && !SERVED_COMMANDS.has(command) && command !== 'StartTLS';
}
