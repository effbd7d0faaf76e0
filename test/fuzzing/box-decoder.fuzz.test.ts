/**
 * Fuzzing BoxDecoder with random bytes and damaged valid streams, cut into random chunks and
 * sometimes paused from inside onBox. Whatever arrives, `push` must return normally (a bad key
 * prefix goes to onError), make progress, and agree with the obvious parser below.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoxDecoder, FRAMING_STATE_NAMES, KeyTooLongError, MAX_KEY_LENGTH, encodeBox, type AmpBox, type FramingError } from '../../codec/index.js';
import { boxSequences, splitAt, splitPoints } from '../codec/arbitraries.js';

type Entries = [string, string][];

interface Outcome {
  boxes: Entries[];
  /** The over-long key prefix that stopped parsing, if any. */
  failedPrefix: number | undefined;
  strings: number;
  state: string;
  /** Bytes after the last complete string (not meaningful once failed). */
  unparsed: number;
}

/** The three-state table of docs/amp-protocol.md §1.3 and §1.4, written as plainly as possible. */
function referenceParse(bytes: Buffer): Outcome {
  const boxes: Entries[] = [];
  let state: 'init' | 'key' | 'value' = 'init';
  let box = new Map<string, Buffer>();
  let key = '';
  let pos = 0;
  let strings = 0;
  while (pos + 2 <= bytes.length) {
    const length = bytes.readUInt16BE(pos);
    if (state !== 'value' && length > MAX_KEY_LENGTH) {
      return { boxes, failedPrefix: length, strings, state, unparsed: bytes.length - pos };
    }
    if (pos + 2 + length > bytes.length) break;
    const body = bytes.subarray(pos + 2, pos + 2 + length);
    pos += 2 + length;
    strings++;
    if (state === 'value') {
      box.set(key, body);
      state = 'key';
    } else if (length === 0) {
      boxes.push(entriesOf(box));
      box = new Map();
      state = 'init';
    } else {
      if (state === 'init') box = new Map();
      key = body.toString('latin1');
      state = 'value';
    }
  }
  return { boxes, failedPrefix: undefined, strings, state, unparsed: bytes.length - pos };
}

function entriesOf(box: ReadonlyMap<string, Buffer>): Entries {
  return [...box].map(([k, v]) => [k, v.toString('hex')]);
}

interface Feeding {
  readonly chunks: readonly Buffer[];
  /** For each delivered box (cycling), whether onBox pauses the decoder. */
  readonly pauses: readonly boolean[];
}

function runDecoder(bytes: Buffer, { chunks, pauses }: Feeding): Outcome & { errors: number; thrown: unknown[] } {
  const delivered: AmpBox[] = [];
  const errors: FramingError[] = [];
  const thrown: unknown[] = [];
  let strings = 0;
  let afterFailure = 0;
  const decoder: BoxDecoder = new BoxDecoder({
    onBox: (box) => {
      if (errors.length > 0) afterFailure++;
      delivered.push(box);
      if (pauses.length > 0 && pauses[(delivered.length - 1) % pauses.length]) decoder.pause();
    },
    onError: (error) => errors.push(error),
    onTrace: () => {
      if (errors.length > 0) afterFailure++;
      strings++;
    },
  });
  const guard = (action: () => void) => {
    try {
      action();
    } catch (error) {
      thrown.push(error);
    }
  };
  for (const chunk of chunks) {
    guard(() => decoder.push(chunk));
    // The application resumes at its own pace: here after every read.
    guard(() => decoder.resume());
  }
  // A paused decoder holds the rest; resuming until it stops pausing must drain it.
  for (let rounds = 0; decoder.isPaused && rounds <= bytes.length; rounds++) guard(() => decoder.resume());
  expect(afterFailure, 'nothing may be delivered after onError').toBe(0);
  expect(decoder.isPaused).toBe(false);
  // Every string consumes at least its 2-byte prefix: more strings than that means a loop.
  expect(strings).toBeLessThanOrEqual(Math.floor(bytes.length / 2));
  return {
    boxes: delivered.map(entriesOf),
    failedPrefix: errors[0] instanceof KeyTooLongError ? errors[0].keyLength : undefined,
    errors: errors.length,
    strings,
    state: FRAMING_STATE_NAMES[decoder.state]!,
    unparsed: decoder.bufferedLength,
    thrown,
  };
}

function checkAgainstReference(bytes: Buffer, feeding: Feeding): void {
  const expected = referenceParse(bytes);
  const actual = runDecoder(bytes, feeding);
  expect(actual.thrown).toEqual([]);
  expect(actual.boxes).toEqual(expected.boxes);
  expect(actual.failedPrefix).toBe(expected.failedPrefix);
  expect(actual.errors).toBe(expected.failedPrefix === undefined ? 0 : 1);
  expect(actual.strings).toBe(expected.strings);
  if (expected.failedPrefix === undefined) {
    expect(actual.state).toBe(expected.state);
    expect(actual.unparsed).toBe(expected.unparsed);
  }
}

/** Bytes skewed towards small values, so that length prefixes often stay under 256 and parsing goes deep. */
const skewedBytes = fc
  .array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 255 })), { maxLength: 600 })
  .map((values) => Buffer.from(values));

const randomBytes = fc.uint8Array({ maxLength: 400 }).map((bytes) => Buffer.from(bytes));

const validStreams = boxSequences
  .filter((list) => list.every((box) => [...box.values()].every((value) => value.length < 5000)))
  .map((list) => Buffer.concat(list.map((box) => encodeBox(box))));

type Mutation =
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'duplicate'; at: number; count: number }
  | { kind: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.oneof(fc.constantFrom(0, 1, 0xff), fc.nat(255)) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.kind === 'set' && out.length > 0) out[at] = m.byte;
    else if (m.kind === 'insert') out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    else if (m.kind === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.count)]);
    else if (m.kind === 'duplicate') out = Buffer.concat([out.subarray(0, at + m.count), out.subarray(at)]);
    else if (m.kind === 'truncate') out = out.subarray(0, at);
  }
  return out;
}

const mutatedStreams = fc.tuple(validStreams, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([bytes, list]) => mutate(bytes, list));

/** A stream plus a way of feeding it: random cuts (empty chunks included) or one byte at a time. */
function fed(streams: fc.Arbitrary<Buffer>): fc.Arbitrary<[Buffer, Feeding]> {
  return streams.chain((bytes) =>
    fc
      .record({
        cuts: fc.oneof(splitPoints(bytes.length), fc.constant('bytewise' as const)),
        emptyChunks: fc.boolean(),
        pauses: fc.oneof(fc.constant([]), fc.array(fc.boolean(), { minLength: 1, maxLength: 4 })),
      })
      .map(({ cuts, emptyChunks, pauses }): [Buffer, Feeding] => {
        const positions = cuts === 'bytewise' ? Array.from({ length: Math.max(0, bytes.length - 1) }, (_, i) => i + 1) : cuts;
        let chunks = splitAt(bytes, positions);
        if (emptyChunks) chunks = chunks.flatMap((chunk) => [Buffer.alloc(0), chunk]);
        return [bytes, { chunks, pauses }];
      }),
  );
}

describe('BoxDecoder fuzzing', () => {
  it('random bytes, random chunking', () => {
    fc.assert(fc.property(fed(randomBytes), ([bytes, feeding]) => checkAgainstReference(bytes, feeding)), { numRuns: 1500 });
  });

  it('bytes skewed towards small length prefixes', () => {
    fc.assert(fc.property(fed(skewedBytes), ([bytes, feeding]) => checkAgainstReference(bytes, feeding)), { numRuns: 1500 });
  });

  it('valid streams with random damage', () => {
    fc.assert(fc.property(fed(mutatedStreams), ([bytes, feeding]) => checkAgainstReference(bytes, feeding)), { numRuns: 1000 });
  });

  it('valid streams, paused at random boxes, deliver everything in order', () => {
    fc.assert(fc.property(fed(validStreams), ([bytes, feeding]) => checkAgainstReference(bytes, feeding)), { numRuns: 300 });
  });

  it('the reference parser itself reads the documented vectors', () => {
    const a1 = Buffer.from('00045f61736b00013100085f636f6d6d616e64000548656c6c6f0005636f756e740002313300046e616d650003626f620000', 'hex');
    expect(referenceParse(a1).boxes).toEqual([
      [['_ask', '31'], ['_command', Buffer.from('Hello').toString('hex')], ['count', '3133'], ['name', '626f62']],
    ]);
    expect(referenceParse(Buffer.from('0100', 'hex')).failedPrefix).toBe(256);
    expect(referenceParse(Buffer.from('0000ffff', 'hex'))).toMatchObject({ boxes: [[]], failedPrefix: 0xffff });
  });
});
