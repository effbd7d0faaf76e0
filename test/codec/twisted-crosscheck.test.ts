/**
 * Differential test against real Twisted, each version of test/support/twisted-peers.ts (22.4 and
 * 24.11), through test/python/codec_oracle.py: thousands of random
 * values per argument type must encode to Twisted's exact bytes, Twisted must decode our bytes to
 * the same value, and we must decode Twisted's bytes to the same value. Whole boxes and the box
 * parser are compared the same way, and so is decoding of lenient or malformed text.
 *
 * In CI (CI=true) a missing Twisted version fails the run; elsewhere its suite is skipped and says
 * why.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  BoxDecoder,
  KeyTooLongError,
  MAX_KEY_LENGTH,
  ValueTooLongError,
  encodeBox,
  type AmpBox,
  type WireValue,
} from '../../codec/index.js';
import {
  absolutePaths,
  bigIntegers,
  boxKeys,
  boxValues,
  boxes,
  byteStrings,
  dateTimes,
  decimals,
  doubles,
  patterned,
  texts,
} from './arbitraries.js';
import { describeEachTwisted } from '../support/twisted-peers.js';
import { Oracle, ampTypeOf, canonicalRep, toRep, type Rep, type Spec } from './twisted-oracle.js';

const SEED = Number(process.env.FC_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Mismatches shown per assertion; enough to see a pattern without flooding the report. */
const SHOWN = 5;

const hexOf = (wire: WireValue) => (typeof wire === 'string' ? Buffer.from(wire, 'utf8') : Buffer.from(wire)).toString('hex');

function sample<T>(arbitrary: fc.Arbitrary<T>, numRuns: number, salt: number): T[] {
  return fc.sample(arbitrary, { numRuns, seed: SEED + salt });
}

interface TypeCase {
  readonly spec: Spec;
  readonly values: () => unknown[];
}

const list = <T>(arbitrary: fc.Arbitrary<T>, maxLength: number) => fc.array(arbitrary, { maxLength });
const smallInts = fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n });

const ampListSpec: Spec = {
  AmpList: [
    ['a', 'Integer'],
    ['b', 'Unicode', true],
    ['from', 'Float', true],
    ['li', { ListOf: 'Integer' }, true],
    ['s', 'String', true],
    ['t', 'DateTime', true],
    ['d', 'Decimal', true],
    ['foo-bar', 'Boolean', true],
  ],
};
const ampListElement = fc.record(
  { a: smallInts, b: texts, from: doubles, li: list(smallInts, 5), s: byteStrings, t: dateTimes, d: decimals, 'foo-bar': fc.boolean() },
  { requiredKeys: ['a'] },
);

const typeCases: Record<string, TypeCase> = {
  Integer: { spec: 'Integer', values: () => sample(bigIntegers, 3000, 1) },
  String: { spec: 'String', values: () => sample(byteStrings, 2000, 2) },
  Unicode: { spec: 'Unicode', values: () => sample(texts, 4000, 3) },
  Boolean: { spec: 'Boolean', values: () => [true, false] },
  Float: { spec: 'Float', values: () => sample(doubles, 6000, 4) },
  Decimal: { spec: 'Decimal', values: () => sample(decimals, 5000, 5) },
  DateTime: { spec: 'DateTime', values: () => sample(dateTimes, 4000, 6) },
  Path: { spec: 'Path', values: () => sample(absolutePaths, 1500, 7) },
  'ListOf(Integer)': { spec: { ListOf: 'Integer' }, values: () => sample(list(bigIntegers.filter((n) => n.toString().length < 300), 12), 1000, 8) },
  'ListOf(Unicode)': { spec: { ListOf: 'Unicode' }, values: () => sample(list(texts, 12), 1000, 9) },
  'ListOf(String)': { spec: { ListOf: 'String' }, values: () => sample(list(byteStrings, 8), 500, 10) },
  'ListOf(Float)': { spec: { ListOf: 'Float' }, values: () => sample(list(doubles, 12), 1000, 11) },
  'ListOf(Decimal)': { spec: { ListOf: 'Decimal' }, values: () => sample(list(decimals, 8), 1000, 12) },
  'ListOf(DateTime)': { spec: { ListOf: 'DateTime' }, values: () => sample(list(dateTimes, 8), 1000, 13) },
  'ListOf(Boolean)': { spec: { ListOf: 'Boolean' }, values: () => sample(list(fc.boolean(), 8), 200, 14) },
  'ListOf(ListOf(Integer))': { spec: { ListOf: { ListOf: 'Integer' } }, values: () => sample(list(list(smallInts, 6), 6), 1000, 15) },
  'ListOf(ListOf(ListOf(Unicode)))': {
    spec: { ListOf: { ListOf: { ListOf: 'Unicode' } } },
    values: () => sample(list(list(list(texts, 4), 4), 4), 500, 16),
  },
  'AmpList(a, b?, from?, li?, s?, t?, d?, foo-bar?)': { spec: ampListSpec, values: () => sample(list(ampListElement, 5), 1000, 17) },
  'AmpList(x?, y?)': {
    spec: { AmpList: [['x', 'Integer', true], ['y', 'Unicode', true]] },
    values: () => sample(list(fc.record({ x: smallInts, y: texts }, { requiredKeys: [] }), 5), 500, 18),
  },
};

interface Mismatch {
  readonly index: number;
  readonly check: string;
  readonly value: unknown;
  readonly ours: unknown;
  readonly twisted: unknown;
}

function describeValue(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'bigint') return `${v}n`;
      if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) return Object.is(v, -0) ? '-0' : String(v);
      if (v !== null && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer') {
        return `<${Buffer.from((v as { data: number[] }).data).toString('hex')}>`;
      }
      return v;
    }) ?? 'null',
  ) as unknown;
}

function decodeToRep(spec: Spec, hex: string): { rep?: Rep; error?: string } {
  try {
    return { rep: canonicalRep(spec, toRep(spec, ampTypeOf(spec).decode(Buffer.from(hex, 'hex'))))! };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

async function crossCheck(twisted: Oracle, name: string, { spec, values: makeValues }: TypeCase): Promise<{ count: number; mismatches: Mismatch[] }> {
  const values = makeValues();
  const type = ampTypeOf(spec);
  const ours = values.map((value) => hexOf(type.encode(value)));
  const reps = values.map((value) => toRep(spec, value));
  const [twistedEncoded, twistedDecoded] = await Promise.all([
    twisted.batch('encode', reps, spec),
    twisted.batch('decode', ours, spec),
  ]);
  const mismatches: Mismatch[] = [];
  values.forEach((value, index) => {
    const expected = canonicalRep(spec, reps[index]);
    const encoded = twistedEncoded[index]!;
    if (encoded.hex === undefined || encoded.hex !== ours[index]) {
      mismatches.push({ index, check: `${name}: Twisted encodes to the same bytes`, value, ours: ours[index], twisted: encoded });
    } else {
      const back = decodeToRep(spec, encoded.hex);
      if (!sameRep(back.rep, expected)) mismatches.push({ index, check: `${name}: we decode Twisted's bytes to the value`, value, ours: back, twisted: encoded.hex });
    }
    const decoded = twistedDecoded[index]!;
    if (!sameRep(canonicalRep(spec, decoded.value), expected)) {
      mismatches.push({ index, check: `${name}: Twisted decodes our bytes to the value`, value, ours: ours[index], twisted: decoded });
    }
  });
  return { count: values.length, mismatches };
}

function sameRep(a: Rep | undefined, b: Rep | undefined): boolean {
  return a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

function report(mismatches: readonly Mismatch[]): unknown[] {
  return mismatches.slice(0, SHOWN).map((m) => ({ ...m, value: describeValue(m.value), ours: describeValue(m.ours) }));
}

describeEachTwisted(`Twisted cross-check (fast-check seed ${SEED})`, (peer) => {
  let oracle: Oracle | undefined;
  const twisted = (): Oracle => {
    if (oracle === undefined) throw new Error(`the ${peer.label} oracle did not start`);
    return oracle;
  };

  beforeAll(async () => {
    oracle = new Oracle(peer);
    const info = await oracle.request({ op: 'info' });
    expect(String(info.twisted).startsWith(`${peer.version}.`), `the oracle runs Twisted ${String(info.twisted)}`).toBe(true);
  });

  afterAll(async () => {
    await oracle?.close();
  });

  for (const [name, typeCase] of Object.entries(typeCases)) {
    it(`${name}: same bytes and same values both ways`, async () => {
      const { count, mismatches } = await crossCheck(twisted(), name, typeCase);
      expect(count).toBeGreaterThan(0);
      expect(report(mismatches), `${mismatches.length} of ${count} values disagree`).toEqual([]);
    });
  }

  it('lenient and malformed text decodes the same way (or fails in both)', async () => {
    const specs: Spec[] = ['Integer', 'Float', 'Decimal', 'Boolean', 'DateTime', 'Unicode', { ListOf: 'Integer' }, SMALL_AMP_LIST];
    const mismatches: Mismatch[] = [];
    let count = 0;
    for (const [index, spec] of specs.entries()) {
      const inputs = sample(malformedTextFor(spec), 3000, 100 + index).map((bytes) => bytes.toString('hex'));
      const results = await twisted().batch('decode', inputs, spec);
      inputs.forEach((hex, i) => {
        const theirs = results[i]!;
        // A value Python decodes but cannot represent (offset of a day or more) says nothing here.
        if (theirs.stage === 'result') return;
        count++;
        const ours = decodeToRep(spec, hex);
        const agree = theirs.error !== undefined ? ours.error !== undefined : sameRep(ours.rep, canonicalRep(spec, theirs.value));
        if (!agree) mismatches.push({ index: i, check: `decode ${JSON.stringify(spec)}`, value: { text: Buffer.from(hex, 'hex').toString('latin1'), hex }, ours, twisted: theirs });
      });
    }
    expect(report(mismatches), `${mismatches.length} of ${count} inputs disagree`).toEqual([]);
  });

  it('encodeBox writes the bytes of AmpBox.serialize, and fails where it fails', async () => {
    const oversized = fc
      .record({ key: fc.integer({ min: 1, max: 300 }), value: fc.integer({ min: 0, max: 66000 }) })
      .map(({ key, value }) => new Map([['k'.repeat(key), patterned(value, key)], ['a', Buffer.from('b')]]));
    const boxList = [...sample(boxes, 1500, 200), ...sample(oversized, 100, 201)];
    const results = await twisted().batch(
      'encodeBox',
      boxList.map((box) => Object.fromEntries([...box].map(([k, v]) => [Buffer.from(k, 'latin1').toString('hex'), v.toString('hex')]))),
    );
    const mismatches: Mismatch[] = [];
    boxList.forEach((box, index) => {
      const theirs = results[index]!;
      let ours: string;
      try {
        ours = encodeBox(box).toString('hex');
      } catch (error) {
        const isKey = error instanceof KeyTooLongError;
        const sameFailure = (isKey || error instanceof ValueTooLongError) && theirs.error?.startsWith(`TooLong: isKey=${isKey ? 'True' : 'False'} isLocal=True`);
        if (!sameFailure) mismatches.push({ index, check: 'encodeBox fails like Twisted', value: sizes(box), ours: String(error), twisted: theirs });
        return;
      }
      if (theirs.hex !== ours) mismatches.push({ index, check: 'encodeBox bytes', value: sizes(box), ours, twisted: theirs });
    });
    expect(report(mismatches), `${mismatches.length} of ${boxList.length} boxes disagree`).toEqual([]);
  });

  it('the box parser delivers the same boxes, leftovers and key-length failures', async () => {
    const streams = sample(rawStreams, 1500, 300);
    const results = await twisted().batch('decodeBoxes', streams.map((bytes) => bytes.toString('hex')));
    const mismatches: Mismatch[] = [];
    streams.forEach((bytes, index) => {
      const ours = parseLikeOracle(bytes);
      const theirs = results[index]!;
      const theirBoxes = (theirs.error === undefined ? (theirs.value as Record<string, string>[]) : theirs.boxes) ?? [];
      const agree =
        JSON.stringify(ours.boxes) === JSON.stringify(theirBoxes.map(sortedBox)) &&
        (theirs.error === undefined
          ? ours.failedPrefix === undefined && ours.unparsed === theirs.unparsed
          : theirs.error.startsWith(`TooLong: key length prefix ${ours.failedPrefix} `));
      if (!agree) mismatches.push({ index, check: 'decodeBoxes', value: bytes.toString('hex').slice(0, 400), ours, twisted: theirs });
    });
    expect(report(mismatches), `${mismatches.length} of ${streams.length} streams disagree`).toEqual([]);
  });
});

function sizes(box: ReadonlyMap<string, Buffer>): string {
  return [...box].map(([k, v]) => `${k.length}:${v.length}`).join(',');
}

function sortedBox(box: Record<string, string>): [string, string][] {
  return Object.entries(box).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** BoxDecoder fed one byte at a time, which tells where the last complete box ended. */
function parseLikeOracle(bytes: Buffer): { boxes: [string, string][][]; unparsed: number; failedPrefix?: number } {
  const delivered: AmpBox[] = [];
  let consumed = 0;
  let failedPrefix: number | undefined;
  let position = 0;
  const decoder = new BoxDecoder({
    onBox: (box) => {
      delivered.push(box);
      consumed = position;
    },
    onError: (error) => {
      if (error instanceof KeyTooLongError) failedPrefix = error.keyLength;
    },
  });
  for (position = 1; position <= bytes.length; position++) decoder.push(bytes.subarray(position - 1, position));
  const hexBox = (box: AmpBox) => sortedBox(Object.fromEntries([...box].map(([k, v]) => [Buffer.from(k, 'latin1').toString('hex'), v.toString('hex')])));
  return { boxes: delivered.map(hexBox), unparsed: bytes.length - consumed, ...(failedPrefix === undefined ? {} : { failedPrefix }) };
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);

/** Hand-framed streams: unsorted and repeated keys, empty boxes, truncation, bad prefixes, noise. */
const rawStreams: fc.Arbitrary<Buffer> = fc
  .record({
    boxes: fc.array(fc.array(fc.tuple(fc.oneof(boxKeys, fc.constantFrom('k', 'dup')), boxValues.filter((v) => v.length < 3000)), { maxLength: 6 }), { maxLength: 4 }),
    tail: fc.oneof(
      fc.constant(Buffer.alloc(0)),
      fc.integer({ min: MAX_KEY_LENGTH + 1, max: 0xffff }).map((n) => Buffer.concat([u16(n), Buffer.from('ignored')])),
      fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)),
    ),
    truncate: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ boxes: list, tail, truncate }) => {
    const parts: Buffer[] = [];
    for (const pairs of list) {
      for (const [key, value] of pairs) parts.push(u16(key.length), Buffer.from(key, 'latin1'), u16(value.length), value);
      parts.push(u16(0));
    }
    parts.push(tail);
    const bytes = Buffer.concat(parts);
    return truncate === undefined || bytes.length === 0 ? bytes : bytes.subarray(0, truncate % bytes.length);
  });

const SMALL_AMP_LIST: Spec = { AmpList: [['a', 'Integer', true], ['b', 'Unicode', true]] };

const JUNK = ['_', '__', ' ', '\t', '\v', '\x1c', '\xa0', '+', '-', '.', 'e', 'E', '0', '9', 'n', 'N', 'i', 'I', 'a', 's', 'x', 'inf', 'nan', 'Infinity', 'sNaN', ':', 'T', '\0', '\xe9', '١'];

/** Valid encodings of the type, then decorated or damaged the ways parsers usually differ on. */
function malformedTextFor(spec: Spec): fc.Arbitrary<Buffer> {
  const valid: fc.Arbitrary<string> =
    spec === 'Integer' ? bigIntegers.filter((n) => n.toString().length < 60).map(String)
    : spec === 'Float' ? fc.tuple(doubles, fc.boolean()).map(([x, jsStyle]) => (jsStyle ? String(x) : (ampTypeOf('Float').encode(x) as string)))
    : spec === 'Decimal' ? decimals.map(String)
    : spec === 'Boolean' ? fc.constantFrom('True', 'False')
    : spec === 'DateTime' ? dateTimes.map(String)
    : spec === 'Unicode' ? texts
    : fc.constant('');
  const edit = fc.record({
    position: fc.nat(),
    kind: fc.constantFrom('insert', 'replace', 'delete', 'wrap', 'case', 'none'),
    junk: fc.constantFrom(...JUNK),
  });
  const damaged = fc.tuple(valid, fc.array(edit, { maxLength: 3 })).map(([text, edits]) => {
    let out = text;
    for (const { position, kind, junk } of edits) {
      const at = position % (out.length + 1);
      if (kind === 'insert') out = out.slice(0, at) + junk + out.slice(at);
      else if (kind === 'replace') out = out.slice(0, at) + junk + out.slice(at + 1);
      else if (kind === 'delete') out = out.slice(0, at) + out.slice(at + 1);
      else if (kind === 'wrap') out = junk + out + junk;
      else if (kind === 'case') out = out.toUpperCase();
    }
    // latin1 keeps the junk bytes single-byte, as a peer writing raw bytes would.
    return Buffer.from(out, spec === 'Unicode' ? 'utf8' : 'latin1');
  });
  if (spec === 'Unicode') return fc.oneof(damaged, fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)));
  if (spec === SMALL_AMP_LIST) {
    // Valid nested boxes followed by the endings Twisted's parseString treats specially.
    const elements = fc.array(fc.record({ a: smallInts, b: texts }, { requiredKeys: [] }), { maxLength: 3 });
    const ending = fc.oneof(
      fc.constant(Buffer.alloc(0)),
      fc.constantFrom('0000', '000161', '0001610001', '0100', 'ffff', '00016200', '000162000178').map((hex) => Buffer.from(hex, 'hex')),
      fc.integer({ min: MAX_KEY_LENGTH + 1, max: 0xffff }).map((n) => u16(n)),
    );
    return fc.tuple(elements, ending).map(([values, tail]) => Buffer.concat([ampTypeOf(SMALL_AMP_LIST).encode(values) as Buffer, tail]));
  }
  if (typeof spec !== 'string') {
    // ListOf framing: u16-prefixed elements, some cut short (which also misframes what follows).
    return fc.array(fc.tuple(fc.nat(2), malformedTextFor('Integer')), { maxLength: 4 }).map((elements) =>
      Buffer.concat(elements.map(([cutBy, body]) => Buffer.concat([u16(body.length), body]).subarray(0, body.length + 2 - cutBy))),
    );
  }
  return damaged;
}
