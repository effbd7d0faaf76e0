/**
 * Properties of the codec: every type round-trips, box framing survives any chunking, output is
 * sorted like Twisted's, limits fail before anything is produced, and the lenient Python parsers
 * accept what Python accepts.
 */
import { posix } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BoxDecoder,
  DecimalValue,
  EmptyKeyError,
  InvalidArgumentError,
  InvalidKeyError,
  InvalidValueError,
  KeyTooLongError,
  MAX_KEY_LENGTH,
  MAX_VALUE_LENGTH,
  PYTHON_INT_MAX_STR_DIGITS,
  ValueTooLongError,
  amp,
  encodeBox,
  formatPythonFloat,
  parseBoxes,
  parsePythonFloat,
  parsePythonInt,
  type AmpBox,
  type AmpType,
  type WireValue,
} from '../../codec/index.js';
import { Hello, Types } from '../fixtures/commands.js';
import {
  absolutePaths,
  bigIntegers,
  boxSequences,
  boxes,
  byteStrings,
  dateTimes,
  decimals,
  doubles,
  integerNumbers,
  patterned,
  splitAt,
  splitPoints,
  subnormals,
  texts,
} from './arbitraries.js';
import { sameValue, show } from './equality.js';

const wireBytes = (wire: WireValue): Buffer => (typeof wire === 'string' ? Buffer.from(wire, 'utf8') : Buffer.from(wire));

function roundTrip<Out, In>(type: AmpType<Out, In>, value: In): Out {
  return type.decode(wireBytes(type.encode(value)));
}

function expectRoundTrip<T>(type: AmpType<T, T>, arbitrary: fc.Arbitrary<T>, numRuns = 300): void {
  fc.assert(
    fc.property(arbitrary, (value) => {
      const back = roundTrip(type, value);
      expect(sameValue(back, value), `${show(value)} came back as ${show(back)}`).toBe(true);
    }),
    { numRuns },
  );
}

describe('argument types round-trip', () => {
  it('Integer: bigints of any size, written canonically', () => {
    fc.assert(
      fc.property(bigIntegers, (value) => {
        const text = amp.Integer.encode(value);
        expect(text).toBe(value.toString());
        expect(amp.Integer.decode(Buffer.from(text))).toBe(value);
      }),
      { numRuns: 500 },
    );
  });

  it('Integer: numbers, including integral doubles beyond 2^53', () => {
    fc.assert(
      fc.property(integerNumbers, (value) => {
        const text = amp.Integer.encode(value);
        expect(text).toMatch(/^-?(0|[1-9][0-9]*)$/);
        expect(amp.Integer.decode(Buffer.from(text))).toBe(BigInt(value));
      }),
      { numRuns: 500 },
    );
  });

  it('Integer: refuses what Python cannot convert back', () => {
    const limit = 10n ** BigInt(PYTHON_INT_MAX_STR_DIGITS);
    expect(amp.Integer.decode(Buffer.from(amp.Integer.encode(limit - 1n)))).toBe(limit - 1n);
    expect(() => amp.Integer.encode(limit)).toThrow(InvalidValueError);
    expect(() => amp.Integer.encode(-limit)).toThrow(InvalidValueError);
    fc.assert(
      fc.property(fc.double({ noNaN: true }).filter((x) => !Number.isInteger(x)), (value) => {
        expect(() => amp.Integer.encode(value)).toThrow(InvalidValueError);
      }),
    );
  });

  it('IntegerNumber: safe integers round-trip, larger values are refused on decode', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (value) => {
        expect(Object.is(roundTrip(amp.IntegerNumber, value), value === 0 ? 0 : value)).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 2n ** 53n, max: 2n ** 80n }), fc.boolean(), (magnitude, negative) => {
        const bytes = Buffer.from((negative ? -magnitude : magnitude).toString());
        expect(() => amp.IntegerNumber.decode(bytes)).toThrow(InvalidValueError);
      }),
    );
  });

  it('String: bytes unchanged', () => expectRoundTrip(amp.String, byteStrings));

  it('Unicode: any well-formed text, astral characters included', () => {
    expectRoundTrip(amp.Unicode, texts, 1000);
    fc.assert(
      fc.property(texts, (text) => {
        expect(wireBytes(amp.Unicode.encode(text)).equals(Buffer.from(text, 'utf8'))).toBe(true);
      }),
    );
  });

  it('Unicode: lone surrogates cannot be sent, invalid UTF-8 cannot be received', () => {
    fc.assert(
      fc.property(texts, fc.integer({ min: 0xd800, max: 0xdfff }), fc.nat(), (text, surrogate, at) => {
        const position = at % (text.length + 1);
        const broken = text.slice(0, position) + String.fromCharCode(surrogate) + text.slice(position);
        fc.pre(!broken.isWellFormed());
        expect(() => amp.Unicode.encode(broken)).toThrow(InvalidValueError);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 20 }), (bytes) => {
        const buffer = Buffer.from(bytes);
        fc.pre(buffer.toString('utf8') !== '' && !Buffer.from(buffer.toString('utf8'), 'utf8').equals(buffer));
        expect(() => amp.Unicode.decode(buffer)).toThrow(InvalidValueError);
      }),
    );
  });

  it('Boolean: True and False, nothing else', () => {
    expectRoundTrip(amp.Boolean, fc.boolean(), 10);
    fc.assert(
      fc.property(fc.string({ maxLength: 6 }), (text) => {
        fc.pre(text !== 'True' && text !== 'False');
        expect(() => amp.Boolean.decode(Buffer.from(text))).toThrow(InvalidValueError);
      }),
    );
  });

  it('Float: every double, subnormals, signed zeros, NaN and infinities (Object.is)', () => {
    expectRoundTrip(amp.Float, doubles, 3000);
    expectRoundTrip(amp.Float, subnormals, 500);
  });

  it("Float: the text is Python's repr layout", () => {
    fc.assert(
      fc.property(doubles, (value) => {
        const text = formatPythonFloat(value);
        if (!Number.isFinite(value)) {
          expect(text).toBe(Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf');
          return;
        }
        const magnitude = Math.abs(value);
        if (magnitude === 0 || (magnitude >= 1e-4 && magnitude < 1e16)) {
          expect(text).toMatch(/^-?[0-9]+\.[0-9]+$/);
          expect(text).not.toMatch(/^-?0[0-9]/);
        } else {
          expect(text).toMatch(/^-?[1-9](\.[0-9]*[1-9])?e[+-][0-9]{2,3}$/);
        }
        // Shortest round-trip digits, as both languages pick them: the same significant digits.
        const digitsOf = (s: string) => s.replace(/e.*$/i, '').replace(/[-.]/g, '').replace(/^0+/, '').replace(/0+$/, '');
        expect(digitsOf(text)).toBe(digitsOf(String(magnitude)));
      }),
      { numRuns: 3000 },
    );
  });

  it('Float: the encoding read by JS Number() is the same double', () => {
    fc.assert(
      fc.property(doubles, (value) => {
        fc.pre(Number.isFinite(value));
        expect(Object.is(Number(formatPythonFloat(value)), value)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('Decimal: finite values with any exponent and every special keep their representation', () => {
    expectRoundTrip(amp.Decimal, decimals, 2000);
    fc.assert(
      fc.property(decimals, (value) => {
        const text = amp.Decimal.encode(value);
        expect(DecimalValue.parse(text).equals(value)).toBe(true);
        if (!value.isFinite) return;
        // Python's to-sci-string rule (docs/amp-protocol.md §3.2): plain only for q <= 0 and adjusted exponent >= -6.
        const adjusted = value.exponent + value.digits.length - 1;
        const plain = value.exponent <= 0 && adjusted >= -6;
        expect(/E/.test(text)).toBe(!plain);
        if (!plain) expect(text).toMatch(/^-?[0-9](\.[0-9]+)?E[+-][0-9]+$/);
      }),
      { numRuns: 2000 },
    );
  });

  it('DateTime: every field and offset, 32 characters, + only for positive offsets', () => {
    expectRoundTrip(amp.DateTime, dateTimes, 1000);
    fc.assert(
      fc.property(dateTimes, (value) => {
        const text = amp.DateTime.encode(value);
        expect(text).toHaveLength(32);
        expect(text[26]).toBe(value.offsetMinutes > 0 ? '+' : '-');
      }),
    );
  });

  it('ListOf: flat and nested lists of every plain type', () => {
    expectRoundTrip(amp.ListOf(amp.Integer), fc.array(bigIntegers.filter((n) => n.toString().length < 200), { maxLength: 20 }));
    expectRoundTrip(amp.ListOf(amp.Unicode), fc.array(texts, { maxLength: 20 }));
    expectRoundTrip(amp.ListOf(amp.String), fc.array(byteStrings, { maxLength: 10 }));
    expectRoundTrip(amp.ListOf(amp.Float), fc.array(doubles, { maxLength: 20 }));
    expectRoundTrip(amp.ListOf(amp.Decimal), fc.array(decimals, { maxLength: 10 }));
    expectRoundTrip(amp.ListOf(amp.DateTime), fc.array(dateTimes, { maxLength: 10 }));
    expectRoundTrip(amp.ListOf(amp.Boolean), fc.array(fc.boolean(), { maxLength: 10 }));
    expectRoundTrip(amp.ListOf(amp.ListOf(amp.Integer)), fc.array(fc.array(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), { maxLength: 8 }), { maxLength: 8 }));
    expectRoundTrip(
      amp.ListOf(amp.ListOf(amp.ListOf(amp.Unicode))),
      fc.array(fc.array(fc.array(texts, { maxLength: 4 }), { maxLength: 4 }), { maxLength: 4 }),
    );
  });

  it('AmpList: optional fields stay absent, present ones round-trip', () => {
    const schema = {
      a: amp.Integer,
      b: amp.Unicode.optional(),
      from: amp.Float.optional(),
      li: amp.ListOf(amp.Integer).optional(),
      s: amp.String.optional(),
      t: amp.DateTime.optional(),
    };
    const element = fc.record(
      {
        a: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
        b: texts,
        from: doubles,
        li: fc.array(fc.bigInt({ min: -1000n, max: 1000n }), { maxLength: 5 }),
        s: byteStrings,
        t: dateTimes,
      },
      { requiredKeys: ['a'] },
    );
    expectRoundTrip(amp.AmpList(schema), fc.array(element, { maxLength: 6 }), 500);
    const allOptional = amp.AmpList({ x: amp.Integer.optional(), y: amp.Unicode.optional() });
    expectRoundTrip(allOptional, fc.array(fc.record({ x: fc.bigInt({ min: -9n, max: 9n }), y: texts }, { requiredKeys: [] }), { maxLength: 6 }));
    expect(allOptional.encode([{}, {}])).toEqual(Buffer.from('00000000', 'hex'));
  });

  it('Path: absolute normalised paths round-trip; relative ones become absolute', () => {
    expectRoundTrip(amp.Path, absolutePaths, 500);
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', '.', '..', 'ü', '😀'), { minLength: 1, maxLength: 6 }), (segments) => {
        const relative = segments.join('/');
        expect(amp.Path.encode(relative)).toBe(posix.resolve(relative));
      }),
    );
  });

  it('a whole command with every type round-trips through one box', () => {
    const args = fc.record(
      {
        fl: doubles,
        d: decimals,
        t: dateTimes,
        b: fc.boolean(),
        u: texts,
        li: fc.array(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }), { maxLength: 8 }),
        lu: fc.array(texts, { maxLength: 8 }),
        al: fc.array(fc.record({ a: fc.bigInt({ min: -99n, max: 99n }), b: texts }, { requiredKeys: ['a'] }), { maxLength: 4 }),
        from: bigIntegers.filter((n) => n.toString().length < 100),
        'foo-bar': fc.bigInt({ min: -99n, max: 99n }),
        s: byteStrings,
        i: bigIntegers.filter((n) => n.toString().length < 100),
        p: absolutePaths,
        lli: fc.array(fc.array(fc.bigInt({ min: -99n, max: 99n }), { maxLength: 4 }), { maxLength: 4 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(args, fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }), (values, tag) => {
        const [box, ...rest] = parseBoxes(Types.encodeRequest(tag, values as never));
        expect(rest).toEqual([]);
        expect(box!.get('_ask')!.toString('latin1')).toBe(tag);
        const back = Types.decodeArguments(box!);
        expect(sameValue(back, values), `${show(values)} came back as ${show(back)}`).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

/** Independent of encodeBox: Buffer.compare on the key bytes, prefixes written by hand. */
function referenceEncode(box: ReadonlyMap<string, Buffer>): Buffer {
  const pairs = [...box].map(([key, value]) => [Buffer.from(key, 'latin1'), value] as const);
  pairs.sort(([a], [b]) => Buffer.compare(a, b));
  const parts: Buffer[] = [];
  const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
  for (const [key, value] of pairs) parts.push(u16(key.length), key, u16(value.length), value);
  parts.push(u16(0));
  return Buffer.concat(parts);
}

function decodeChunks(chunks: readonly Buffer[]): { boxes: AmpBox[]; errors: Error[]; buffered: number } {
  const decoded: AmpBox[] = [];
  const errors: Error[] = [];
  const decoder = new BoxDecoder({ onBox: (box) => decoded.push(box), onError: (error) => errors.push(error) });
  for (const chunk of chunks) decoder.push(chunk);
  return { boxes: decoded, errors, buffered: decoder.bufferedLength };
}

const entries = (box: ReadonlyMap<string, Buffer>) => [...box].map(([k, v]) => [k, v.toString('hex')] as const);
const sortedEntries = (box: ReadonlyMap<string, Buffer>) => entries(box).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

describe('box framing', () => {
  it('encodeBox writes what a hand-written reference encoder writes', () => {
    fc.assert(
      fc.property(boxes, (box) => {
        expect(encodeBox(box).equals(referenceEncode(box))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('keys come out sorted by their bytes, whatever the insertion order', () => {
    fc.assert(
      fc.property(boxes, (box) => {
        const [decoded] = parseBoxes(encodeBox(box));
        const keys = [...decoded!.keys()].map((key) => Buffer.from(key, 'latin1'));
        for (let i = 1; i < keys.length; i++) expect(Buffer.compare(keys[i - 1]!, keys[i]!)).toBe(-1);
        const reversed = new Map([...box].reverse());
        expect(encodeBox(reversed).equals(encodeBox(box))).toBe(true);
        expect(encodeBox(Object.fromEntries(box)).equals(encodeBox(box))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('BoxDecoder returns the same boxes under any chunk split', () => {
    const streams = boxSequences.chain((list) => {
      const bytes = Buffer.concat(list.map((box) => encodeBox(box)));
      return fc.tuple(fc.constant(list), fc.constant(bytes), splitPoints(bytes.length));
    });
    fc.assert(
      fc.property(streams, ([list, bytes, cuts]) => {
        const expected = list.map(sortedEntries);
        for (const chunks of [[bytes], splitAt(bytes, cuts)]) {
          const result = decodeChunks(chunks);
          expect(result.errors).toEqual([]);
          expect(result.buffered).toBe(0);
          expect(result.boxes.map(entries)).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('BoxDecoder returns the same boxes fed one byte at a time', () => {
    const small = fc.array(boxes, { minLength: 1, maxLength: 3 }).filter((list) => list.every((box) => [...box.values()].every((v) => v.length < 2000)));
    fc.assert(
      fc.property(small, (list) => {
        const bytes = Buffer.concat(list.map((box) => encodeBox(box)));
        const result = decodeChunks(splitAt(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)));
        expect(result.errors).toEqual([]);
        expect(result.boxes.map(entries)).toEqual(list.map(sortedEntries));
      }),
      { numRuns: 150 },
    );
  });

  it('no box is delivered before its last byte, and the rest completes it', () => {
    fc.assert(
      fc.property(boxes, fc.nat(), (box, at) => {
        const bytes = encodeBox(box);
        const cut = at % bytes.length;
        const delivered: AmpBox[] = [];
        const decoder = new BoxDecoder({ onBox: (b) => delivered.push(b), onError: (error) => { throw error; } });
        decoder.push(bytes.subarray(0, cut));
        expect(delivered).toEqual([]);
        decoder.push(bytes.subarray(cut));
        expect(delivered.map(entries)).toEqual([sortedEntries(box)]);
        expect(decoder.bufferedLength).toBe(0);
      }),
    );
  });
});

type Oversize = { key: string; value: WireValue };

/** Which error Twisted's serialize would raise first: pairs in sorted key order, key checked first. */
function expectedFailure(pairs: readonly Oversize[]): { type: new (...args: never[]) => Error; key: string } | undefined {
  const sorted = [...pairs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const { key, value } of sorted) {
    if (key.length === 0) return { type: EmptyKeyError, key };
    if (key.length > MAX_KEY_LENGTH) return { type: KeyTooLongError, key };
    if ([...key].some((c) => c.charCodeAt(0) > 0xff)) return { type: InvalidKeyError, key };
    if (wireBytes(value).length > MAX_VALUE_LENGTH) return { type: ValueTooLongError, key };
  }
  return undefined;
}

describe('size limits', () => {
  const riskyKeys = fc.oneof(
    { arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 10 }), weight: 5 },
    { arbitrary: fc.integer({ min: 254, max: 300 }).map((n) => 'k'.repeat(n)), weight: 1 },
    { arbitrary: fc.constantFrom('', 'ключ', '\u0100'), weight: 1 },
  );
  const riskyValues = fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength: 10 }) as fc.Arbitrary<WireValue>, weight: 5 },
    { arbitrary: fc.integer({ min: 65534, max: 65537 }).map((n) => patterned(n, 7) as WireValue), weight: 1 },
    // Three UTF-8 bytes per character: the limit is on bytes, not on string length.
    { arbitrary: fc.integer({ min: 21844, max: 21846 }).map((n) => '€'.repeat(n) as WireValue), weight: 1 },
  );

  it('the first offending pair in sorted order raises its error class, and nothing is produced', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.record({ key: riskyKeys, value: riskyValues }), { selector: (p) => p.key, maxLength: 6 }), (pairs) => {
        const expected = expectedFailure(pairs);
        const written: Buffer[] = [];
        const send = () => written.push(encodeBox(new Map(pairs.map((p) => [p.key, p.value]))));
        if (expected === undefined) {
          send();
          expect(written).toHaveLength(1);
          return;
        }
        let caught: unknown;
        try {
          send();
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(expected.type);
        expect(written).toEqual([]);
        if (caught instanceof ValueTooLongError) expect(caught.keyName).toBe(expected.key);
        if (caught instanceof KeyTooLongError) {
          expect(caught.isLocal).toBe(true);
          expect(caught.keyLength).toBe(expected.key.length);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('typed commands refuse over-long arguments before encoding', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70000 }), (length) => {
        const encode = () => Hello.encodeRequest('1', { count: 1n, name: patterned(length, 3) });
        if (length <= MAX_VALUE_LENGTH) expect(encode().length).toBeGreaterThan(length);
        else expect(encode).toThrow(ValueTooLongError);
      }),
      { numRuns: 50 },
    );
    const longElement = () => Types.encodeRequest('1', { lu: ['x'.repeat(MAX_VALUE_LENGTH + 1)] });
    expect(longElement).toThrow(InvalidArgumentError);
    try {
      longElement();
    } catch (error) {
      expect((error as Error).cause).toBeInstanceOf(InvalidValueError);
    }
  });
});

const WHITESPACE = [' ', '\t', '\n', '\r', '\v', '\f'];
const whitespace = fc.array(fc.constantFrom(...WHITESPACE), { maxLength: 3 }).map((list) => list.join(''));

/** Inserts single underscores between digits, as PEP 515 allows. */
function withUnderscores(digits: string, positions: readonly number[]): string {
  const cuts = new Set(positions.map((p) => 1 + (p % Math.max(1, digits.length - 1))).filter((p) => p < digits.length));
  let out = '';
  for (let i = 0; i < digits.length; i++) out += (cuts.has(i) ? '_' : '') + digits[i];
  return out;
}

describe('parsePythonInt leniency', () => {
  it('accepts whitespace, an explicit sign, leading zeros and underscores', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 300n), max: 10n ** 300n }),
        whitespace,
        whitespace,
        fc.boolean(),
        fc.nat(5),
        fc.array(fc.nat(), { maxLength: 5 }),
        (value, before, after, plus, zeros, underscores) => {
          const magnitude = value < 0n ? -value : value;
          const sign = value < 0n ? '-' : plus ? '+' : '';
          const text = before + sign + withUnderscores('0'.repeat(zeros) + magnitude.toString(), underscores) + after;
          expect(parsePythonInt(text), JSON.stringify(text)).toBe(value);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('rejects what int() rejects', () => {
    for (const text of ['', ' ', '+', '-', '_1', '1_', '1__0', '+-1', '- 1', '1 2', '0x10', '1.0', '1e3', '\u0661', '\x1c1', '\xa01', 'nan', '++1']) {
      expect(parsePythonInt(text), JSON.stringify(text)).toBeUndefined();
    }
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{2,20}$/), fc.nat(), fc.constantFrom(' ', '__', 'a', '+', '-', '.', '\u0661', '\0'), (digits, at, junk) => {
        const position = 1 + (at % (digits.length - 1));
        const text = digits.slice(0, position) + junk + digits.slice(position);
        expect(parsePythonInt(text), JSON.stringify(text)).toBeUndefined();
      }),
    );
  });

  it("counts leading zeros towards Python's digit limit", () => {
    expect(parsePythonInt('0'.repeat(PYTHON_INT_MAX_STR_DIGITS - 1) + '1')).toBe(1n);
    expect(parsePythonInt('0'.repeat(PYTHON_INT_MAX_STR_DIGITS) + '1')).toBeUndefined();
    expect(parsePythonInt('1' + '_0'.repeat(PYTHON_INT_MAX_STR_DIGITS - 1))).toBe(10n ** BigInt(PYTHON_INT_MAX_STR_DIGITS - 1));
    expect(parsePythonInt('1' + '_0'.repeat(PYTHON_INT_MAX_STR_DIGITS))).toBeUndefined();
  });
});

describe('parsePythonFloat leniency', () => {
  it('reads JS, Python and decorated spellings of every finite double', () => {
    // Spelled from the magnitude because JS drops the sign of -0 in String() and toExponential().
    const spellings = (value: number) => {
      const magnitude = Math.abs(value);
      const sign = value < 0 || Object.is(value, -0) ? '-' : '';
      const bodies = [String(magnitude), magnitude.toExponential(), magnitude.toExponential().toUpperCase()];
      return [formatPythonFloat(value), ...bodies.map((body) => sign + body), ...(sign === '' ? bodies.map((body) => '+' + body) : [])];
    };
    fc.assert(
      fc.property(doubles, whitespace, whitespace, fc.array(fc.nat(), { maxLength: 3 }), (value, before, after, underscores) => {
        fc.pre(Number.isFinite(value));
        for (const spelling of spellings(value)) {
          const decorated = before + spelling.replace(/[0-9]+/, (digits) => withUnderscores(digits, underscores)) + after;
          expect(Object.is(parsePythonFloat(decorated), value), JSON.stringify(decorated)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('reads inf, infinity and nan in any case, with any sign', () => {
    const words = fc.mixedCase(fc.constantFrom('inf', 'infinity', 'nan'));
    fc.assert(
      fc.property(words, fc.constantFrom('', '+', '-'), whitespace, whitespace, (word, sign, before, after) => {
        const value = parsePythonFloat(before + sign + word + after);
        if (word.toLowerCase() === 'nan') expect(value).toBeNaN();
        else expect(value).toBe(sign === '-' ? -Infinity : Infinity);
      }),
    );
  });

  it('rejects what float() rejects', () => {
    for (const text of ['', ' ', '.', '1e', 'e5', '1_e5', '1._5', '1.5_', '_1.5', '0x1p3', 'infinit', 'infinityy', 'in f', '1 .5', '--1', '+-1', 'nan1', '1e5.0', '\u0661', '\xa01', '1,5']) {
      expect(parsePythonFloat(text), JSON.stringify(text)).toBeUndefined();
    }
  });

  it('accepts the forms Python accepts that JS does not write', () => {
    const cases: [string, number][] = [['1.', 1], ['.5', 0.5], ['1_0.5', 10.5], ['1e1_0', 1e10], ['1_000.000_1', 1000.0001], [' 1.5\v', 1.5], ['-0', -0], ['00.100', 0.1], ['1E+2', 100]];
    for (const [text, value] of cases) expect(Object.is(parsePythonFloat(text), value), JSON.stringify(text)).toBe(true);
  });
});
