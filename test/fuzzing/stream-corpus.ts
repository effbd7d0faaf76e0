/**
 * The streams the socket fuzzer sends: a few valid boxes from a corpus (encoded by the codec's own
 * encodeBox), then damaged the ways a broken or hostile peer damages them — truncation, lying
 * length prefixes, keys over 255 bytes, empty keys, values over 65535 bytes written with a wrapped
 * prefix, floods of boxes, bit flips and garbage. Generated with fast-check from a seed, so any
 * stream can be made again from (seed, batch, index).
 */
import fc from 'fast-check';
import { encodeBox } from '../../codec/index.js';

/** The tag of the call the fuzzer makes after a stream that left the server between boxes. */
export const PROBE_TAG = 'zz-probe';
/** Command names the fuzz server answers (docs/amp-protocol.md §2.5: any other one is unhandled). */
export const SERVED_COMMANDS: ReadonlySet<string> = new Set(['Hello', 'Echo', 'Ping', 'Delay']);

export type Damage =
  | 'none'
  | 'truncate'
  | 'lying-length'
  | 'long-key'
  | 'empty-key'
  | 'huge-value'
  | 'flood'
  | 'bit-flip'
  | 'garbage'
  | 'random-bytes';

export interface FuzzStream {
  readonly bytes: Buffer;
  readonly damage: readonly Damage[];
}

const hexTag = fc.integer({ min: 1, max: 0xffffff }).map((n) => n.toString(16));
const smallCount = fc.oneof(fc.integer({ min: -5, max: 1000 }), fc.constantFrom(666, 777, 0));
const text = fc.string({ maxLength: 24 });
const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((array) => Buffer.from(array));

const helloCall = fc.record({ tag: hexTag, count: smallCount, name: text }).map(({ tag, count, name }) =>
  encodeBox({ _command: 'Hello', _ask: tag, count: String(count), name }),
);

/**
 * One valid box, as a well-behaved or confused peer would write it. Calls the server serves
 * outweigh the boxes it must refuse, so that many streams stay valid after their damage.
 */
const corpusBox: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: helloCall },
  { weight: 1, arbitrary: fc.record({ count: smallCount, name: text }).map(({ count, name }) => encodeBox({ _command: 'Hello', count: String(count), name })) },
  { weight: 3, arbitrary: fc.record({ tag: hexTag, data: fc.oneof(bytes(64), bytes(0xffff)) }).map(({ tag, data }) => encodeBox({ _command: 'Echo', _ask: tag, data })) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 1 << 20 }).map((n) => encodeBox({ _command: 'Ping', n: String(n) })) },
  {
    weight: 2,
    arbitrary: fc.record({ tag: hexTag, ms: fc.integer({ min: 0, max: 5 }) }).map(({ tag, ms }) => encodeBox({ _command: 'Delay', _ask: tag, ms: String(ms), id: '1' })),
  },
  { weight: 1, arbitrary: fc.record({ tag: hexTag, name: text }).map(({ tag, name }) => encodeBox({ _command: `No${name}`, _ask: tag })) },
  { weight: 1, arbitrary: text.map((name) => encodeBox({ _command: `No${name}` })) },
  { weight: 1, arbitrary: hexTag.map((tag) => encodeBox({ _answer: tag, greeting: 'hi' })) },
  { weight: 1, arbitrary: hexTag.map((tag) => encodeBox({ _error: tag, _error_code: 'UNKNOWN', _error_description: 'x' })) },
  { weight: 1, arbitrary: fc.constant(encodeBox({})) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), text, { maxKeys: 4 }).map((fields) => encodeBox(fields)) },
);

/** A length-prefixed string, the prefix taken modulo 2^16 as a careless encoder would write it. */
function lengthPrefixed(body: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(body.length & 0xffff);
  return Buffer.concat([prefix, body]);
}

/** Offsets of every length prefix in a well-formed stream. */
function prefixOffsets(stream: Buffer): number[] {
  const offsets: number[] = [];
  for (let pos = 0; pos + 2 <= stream.length; pos += 2 + stream.readUInt16BE(pos)) offsets.push(pos);
  return offsets;
}

/** Offsets where a key may start: a prefix in key position (an even string index within its box). */
function keyOffsets(stream: Buffer): number[] {
  const offsets: number[] = [];
  let expectingKey = true;
  for (const pos of prefixOffsets(stream)) {
    const length = stream.readUInt16BE(pos);
    if (expectingKey) offsets.push(pos);
    expectingKey = expectingKey ? length === 0 : true;
  }
  return offsets;
}

function insertAt(stream: Buffer, at: number, inserted: Buffer): Buffer {
  return Buffer.concat([stream.subarray(0, at), inserted, stream.subarray(at)]);
}

function pick<T>(list: readonly T[], seed: number, fallback: T): T {
  return list.length === 0 ? fallback : list[seed % list.length]!;
}

type Mutation = { readonly damage: Damage; readonly apply: (stream: Buffer) => Buffer };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.nat().map((at): Mutation => ({ damage: 'truncate', apply: (s) => s.subarray(0, s.length === 0 ? 0 : at % s.length) })),
  fc.record({ which: fc.nat(), value: fc.oneof(fc.nat(0xffff), fc.nat(300)) }).map(
    ({ which, value }): Mutation => ({
      damage: 'lying-length',
      apply: (s) => {
        const out = Buffer.from(s);
        const at = pick(prefixOffsets(out), which, -1);
        if (at >= 0) out.writeUInt16BE(value, at);
        return out;
      },
    }),
  ),
  fc.record({ which: fc.nat(), length: fc.integer({ min: 256, max: 1000 }) }).map(
    ({ which, length }): Mutation => ({
      damage: 'long-key',
      apply: (s) => insertAt(s, pick(keyOffsets(s), which, 0), Buffer.concat([lengthPrefixed(Buffer.alloc(length, 0x6b)), lengthPrefixed(Buffer.from('v'))])),
    }),
  ),
  fc.nat().map(
    (which): Mutation => ({
      damage: 'empty-key',
      apply: (s) => insertAt(s, pick(keyOffsets(s), which, 0), Buffer.concat([lengthPrefixed(Buffer.alloc(0)), lengthPrefixed(Buffer.from('value'))])),
    }),
  ),
  fc.record({ which: fc.nat(), length: fc.integer({ min: 0x10000, max: 0x11000 }) }).map(
    ({ which, length }): Mutation => ({
      damage: 'huge-value',
      apply: (s) => insertAt(s, pick(keyOffsets(s), which, 0), Buffer.concat([lengthPrefixed(Buffer.from('data')), lengthPrefixed(Buffer.alloc(length, 0x61))])),
    }),
  ),
  fc.record({ box: fc.oneof(helloCall, fc.constant(encodeBox({ _command: 'Ping', n: '1' }))), copies: fc.integer({ min: 50, max: 2000 }) }).map(
    ({ box, copies }): Mutation => ({ damage: 'flood', apply: (s) => Buffer.concat([s, ...Array<Buffer>(copies).fill(box)]) }),
  ),
  fc.record({ at: fc.nat(), bit: fc.nat(7) }).map(
    ({ at, bit }): Mutation => ({
      damage: 'bit-flip',
      apply: (s) => {
        const out = Buffer.from(s);
        if (out.length > 0) out[at % out.length]! ^= 1 << bit;
        return out;
      },
    }),
  ),
  fc.record({ at: fc.nat(), junk: bytes(64) }).map(({ at, junk }): Mutation => ({ damage: 'garbage', apply: (s) => insertAt(s, s.length === 0 ? 0 : at % (s.length + 1), junk) })),
);

const damagedStreams: fc.Arbitrary<FuzzStream> = fc
  .tuple(fc.array(corpusBox, { minLength: 1, maxLength: 5 }), fc.array(mutation, { maxLength: 3 }))
  .map(([boxes, mutations]) => ({
    bytes: mutations.reduce<Buffer>((stream, m) => m.apply(stream), Buffer.concat(boxes)),
    damage: mutations.length === 0 ? ['none'] : mutations.map((m) => m.damage),
  }));

/** A stream: valid boxes, then none to three kinds of damage; now and then pure random bytes. */
export const fuzzStreams: fc.Arbitrary<FuzzStream> = fc.oneof(
  { weight: 9, arbitrary: damagedStreams },
  { weight: 1, arbitrary: bytes(512).map((random): FuzzStream => ({ bytes: random, damage: ['random-bytes'] })) },
);

/** The streams of batch `batch` of a campaign seeded with `seed`. */
export function streamBatch(seed: number, batch: number, size: number): FuzzStream[] {
  return fc.sample(fuzzStreams, { seed: (seed + batch * 0x9e3779b1) | 0, numRuns: size });
}
