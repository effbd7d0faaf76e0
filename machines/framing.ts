import { assign, setup } from 'xstate';
import { DEFAULT_MAX_BOX_BYTES, MAX_KEY_LENGTH } from '../codec/box.js';

/**
 * One complete length-prefixed string as the receiver sees it. An over-long string in key position
 * is reported as soon as its 2-byte prefix is read: Twisted gives up before the body arrives, so the
 * body never becomes part of the stream's meaning.
 */
export interface FramingStringEvent {
  readonly type: 'string';
  readonly length: number;
}

export interface FramingContext {
  /** Boxes handed to the dispatcher so far, empty ones included. */
  readonly boxes: number;
  /** Key/value pairs completed in the box being read (duplicate keys count every time). */
  readonly pairs: number;
  /** Bytes of the box being read so far, length prefixes included. */
  readonly boxBytes: number;
  /** The receiver's limit on a box's bytes (docs/amp-protocol.md §1.4). */
  readonly maxBoxBytes: number;
}

export interface FramingInput {
  readonly maxBoxBytes?: number | undefined;
}

/**
 * AMP's receive-side framing (docs/amp-protocol.md §1.3, §1.4) as a statechart. `BoxDecoder` is the fast integer
 * implementation of exactly this machine; model-based tests walk every path of this chart through
 * the decoder, and the opt-in trace mode runs it next to the decoder to explain each byte.
 */
export const framingMachine = setup({
  types: {
    context: {} as FramingContext,
    events: {} as FramingStringEvent,
    input: {} as FramingInput | undefined,
  },
  guards: {
    /** A zero-length key is the `00 00` terminator, not a key. */
    isEmpty: ({ event }) => event.length === 0,
    /** Twisted checks the key limit on the prefix alone and closes the connection. */
    isKeyTooLong: ({ event }) => event.length > MAX_KEY_LENGTH,
    /** The string that takes the box past the receiver's limit ends the stream (ampstate's rule). */
    isBoxTooLarge: ({ context, event }) => context.boxBytes + 2 + event.length > context.maxBoxBytes,
  },
  actions: {
    // Resetting here is enough: `init` is only ever entered at stream start or by a delivery.
    deliverBox: assign({ boxes: ({ context }) => context.boxes + 1, pairs: 0, boxBytes: 0 }),
    countPair: assign({ pairs: ({ context }) => context.pairs + 1 }),
    countBytes: assign({ boxBytes: ({ context, event }) => context.boxBytes + 2 + event.length }),
  },
}).createMachine({
  id: 'ampFraming',
  initial: 'init',
  context: ({ input }) => ({ boxes: 0, pairs: 0, boxBytes: 0, maxBoxBytes: input?.maxBoxBytes ?? DEFAULT_MAX_BOX_BYTES }),
  states: {
    // Stream start and between boxes. Kept apart from `key` because an empty string here delivers
    // an empty box that did not exist before (Twisted's NoEmptyBoxes path), not a box with pairs.
    init: {
      on: {
        string: [
          { guard: 'isKeyTooLong', target: 'failed' },
          { guard: 'isBoxTooLarge', target: 'failed' },
          { guard: 'isEmpty', target: 'init', actions: 'deliverBox' },
          { target: 'value', actions: 'countBytes' },
        ],
      },
    },
    key: {
      on: {
        string: [
          { guard: 'isKeyTooLong', target: 'failed' },
          { guard: 'isBoxTooLarge', target: 'failed' },
          { guard: 'isEmpty', target: 'init', actions: 'deliverBox' },
          { target: 'value', actions: 'countBytes' },
        ],
      },
    },
    // Any u16 length is a legal value, the empty one included: only the box's limit applies.
    value: {
      on: {
        string: [
          { guard: 'isBoxTooLarge', target: 'failed' },
          { target: 'key', actions: ['countPair', 'countBytes'] },
        ],
      },
    },
    // Twisted stops reading and closes the connection: nothing after the bad prefix is parsed (the
    // box limit is ampstate's, and ends the stream the same way).
    failed: { type: 'final' },
  },
});

export type FramingMachine = typeof framingMachine;
