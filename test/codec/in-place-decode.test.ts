/**
 * The hot-path shortcuts of issue #13 must be invisible: values decoded in place (`decodeRange`)
 * equal what `decode` makes of a view, errors included; short UTF-8 written in JS equals Node's
 * encoder; tags given as numbers are written as their hex digits.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { amp, BoxDecoder, defineCommand, encodeBox, encodeSortedPairs, type AmpBox } from '../../codec/index.js';
import { DecodedBox } from '../../codec/decoded-box.js';
import { rangeDecoderOf, type AmpType } from '../../codec/types/amp-type.js';
import { UnicodeType } from '../../codec/types/unicode.js';

/** What a call does: the value, or the error's class and message. */
function outcome(run: () => unknown): unknown {
  try {
    return { value: run() };
  } catch (error) {
    return { error: (error as Error).constructor.name, message: (error as Error).message };
  }
}

/** Bytes that are often near-valid for the scalar types: digits, signs, spaces, True/False, UTF-8 pieces. */
const nearValueBytes = fc.oneof(
  fc.uint8Array({ maxLength: 24 }),
  fc.stringMatching(/^[-+ _0-9]{0,20}$/).map((text) => Buffer.from(text, 'latin1')),
  fc.constantFrom('True', 'False', 'true', 'Fals', 'Truee', '1e5', 'inf', '-0', '007', '0x1f', '1_000').map((text) => Buffer.from(text)),
  fc.string({ unit: 'binary', maxLength: 12 }).map((text) => Buffer.from(text, 'utf8')),
  fc.tuple(fc.string({ unit: 'binary', maxLength: 6 }), fc.uint8Array({ maxLength: 3 })).map(([text, junk]) =>
    Buffer.concat([Buffer.from(text, 'utf8'), junk]),
  ),
);

const SCALARS: [string, AmpType<unknown, any>][] = [
  ['Integer', amp.Integer],
  ['IntegerNumber', amp.IntegerNumber],
  ['Unicode', amp.Unicode],
  ['Boolean', amp.Boolean],
  ['Float', amp.Float],
];

describe('decoding in place', () => {
  for (const [name, type] of SCALARS) {
    it(`${name}: decodeRange agrees with decode on any bytes at any offset`, () => {
      const inPlace = rangeDecoderOf(type);
      expect(inPlace).toBeDefined();
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 5 }), nearValueBytes, fc.uint8Array({ maxLength: 5 }), (before, value, after) => {
          const chunk = Buffer.concat([before, value, after]);
          const start = before.length;
          const end = start + value.length;
          expect(outcome(() => inPlace!.decodeRange(chunk, start, end))).toEqual(outcome(() => type.decode(Buffer.from(value))));
        }),
        { numRuns: 3000 },
      );
    });
  }

  it('is not used for a subclass that overrides only decode, nor for types without it', () => {
    class Shouting extends UnicodeType {
      override decode(bytes: Buffer): string {
        return super.decode(bytes).toUpperCase();
      }
    }
    expect(rangeDecoderOf(new Shouting())).toBeUndefined();
    expect(rangeDecoderOf(amp.Path)).toBeUndefined();
    expect(rangeDecoderOf(amp.String)).toBeUndefined();
    expect(rangeDecoderOf(amp.Decimal)).toBeUndefined();
    const Shout = defineCommand({ name: 'Shout', arguments: { text: new Shouting(), n: amp.Integer } });
    const boxes: AmpBox[] = [];
    new BoxDecoder({ onBox: (box) => boxes.push(box), onError: () => {} }).push(Shout.encodeRequest('1', { text: 'hé', n: 7 }));
    expect(boxes[0]).toBeInstanceOf(DecodedBox);
    expect(Shout.decodeArguments(boxes[0]!)).toEqual({ text: 'HÉ', n: 7n });
  });

  it('reports a bad value as the argument it came in, as decode does', () => {
    const Mixed = defineCommand({ name: 'Mixed', arguments: { a: amp.Integer, b: amp.Boolean.optional(), c: amp.Unicode } });
    const wire = encodeBox({ _command: 'Mixed', a: '12', b: 'yes', c: 'x' });
    const boxes: AmpBox[] = [];
    new BoxDecoder({ onBox: (box) => boxes.push(box), onError: () => {} }).push(wire);
    const viaMap = new Map(boxes[0]!);
    expect(outcome(() => Mixed.decodeArguments(boxes[0]!))).toEqual(outcome(() => Mixed.decodeArguments(viaMap)));
    expect(outcome(() => Mixed.decodeArguments(boxes[0]!))).toMatchObject({ error: 'InvalidArgumentError' });
  });
});

describe('encoding short text and numeric tags', () => {
  it('writes any short string (lone surrogates included) exactly as Buffer.from does', () => {
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 70 }), fc.string({ unit: fc.integer({ min: 0xd7f0, max: 0xe010 }).map((c) => String.fromCharCode(c)), maxLength: 8 }));
    fc.assert(
      fc.property(text, (value) => {
        const encoded = encodeSortedPairs(['k'], [value]);
        const expected = Buffer.concat([Buffer.from([0, 1, 0x6b]), u16(Buffer.byteLength(value)), Buffer.from(value, 'utf8'), Buffer.from([0, 0])]);
        expect(encoded.equals(expected)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('writes a number as the lower-case hex digits of toString(16), past 2^32 too', () => {
    for (const tag of [0, 1, 9, 10, 15, 16, 255, 4096, 0x7fffffff, 0x80000000, 0xffffffff, 0x1_0000_0000, 2 ** 48 - 1]) {
      expect(encodeSortedPairs(['_ask'], [tag]).equals(encodeBox({ _ask: tag.toString(16) }))).toBe(true);
    }
  });
});

function u16(n: number): Buffer {
  return Buffer.from([n >> 8, n & 0xff]);
}
