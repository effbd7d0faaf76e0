/**
 * fast-check generators for every AMP argument type and for raw boxes, shared by the property
 * tests and the Twisted cross-check. They lean towards the values where Python and JavaScript
 * disagree by default: huge integers, subnormal and special floats, decimal exponents, offsets,
 * astral characters.
 */
import fc from 'fast-check';
import { DateTimeValue, DecimalValue, MAX_KEY_LENGTH, PYTHON_INT_MAX_STR_DIGITS } from '../../codec/index.js';

export const MAX_SUBNORMAL = 2.2250738585072009e-308;
export const MIN_NORMAL = 2.2250738585072014e-308;

export const bigIntegers: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
  fc.bigInt({ min: -(10n ** 400n), max: 10n ** 400n }),
  fc.bigInt(),
  fc.constantFrom(
    0n,
    -1n,
    2n ** 53n,
    2n ** 53n + 1n,
    -(2n ** 63n),
    2n ** 64n,
    2n ** 70n,
    10n ** BigInt(PYTHON_INT_MAX_STR_DIGITS) - 1n,
    -(10n ** BigInt(PYTHON_INT_MAX_STR_DIGITS) - 1n),
  ),
);

/** Integers as JS numbers, including integral doubles far beyond 2^53. */
export const integerNumbers: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => Math.trunc(x)),
  fc.constantFrom(-0, Number.MAX_VALUE, -Number.MAX_VALUE, 2 ** 53, 2 ** 53 + 2, 1e21, 1e300),
);

function doubleFromBits(bits: bigint): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, bits);
  return view.getFloat64(0);
}

export const subnormals: fc.Arbitrary<number> = fc.oneof(
  fc.double({ min: -MAX_SUBNORMAL, max: MAX_SUBNORMAL }),
  fc.bigInt({ min: 1n, max: 2n ** 52n - 1n }).map((mantissa) => doubleFromBits(mantissa)),
  fc.bigInt({ min: 1n, max: 2n ** 52n - 1n }).map((mantissa) => doubleFromBits((1n << 63n) | mantissa)),
);

/** Every double is reachable: uniform bit patterns give NaN payloads and extreme exponents. */
export const doubles: fc.Arbitrary<number> = fc.oneof(
  fc.double(),
  subnormals,
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(doubleFromBits),
  fc.integer({ min: -30, max: 30 }).chain((e) => fc.integer({ min: 1, max: 99999 }).map((m) => m * 10 ** e)),
  fc.constantFrom(
    0, -0, NaN, Infinity, -Infinity, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, MIN_NORMAL,
    MAX_SUBNORMAL, 1e16, 1e15, 9999999999999998, 1e-4, 1e-5, 0.0001, 0.00009999999999999999, 0.1, 1e21, 1e-7,
    123456789012345680000, 2 ** 53, 1.5, 100,
  ),
);

const decimalDigits = fc.oneof(
  fc.stringMatching(/^[0-9]{1,6}$/),
  fc.stringMatching(/^[1-9][0-9]{0,60}$/),
  fc.constant('0'),
);

export const finiteDecimals: fc.Arbitrary<DecimalValue> = fc
  .record({
    sign: fc.constantFrom(0 as const, 1 as const),
    digits: decimalDigits,
    exponent: fc.oneof(fc.integer({ min: -12, max: 12 }), fc.integer({ min: -100_000, max: 100_000 })),
  })
  .map(({ sign, digits, exponent }) => DecimalValue.finite(sign, digits, exponent));

export const specialDecimals: fc.Arbitrary<DecimalValue> = fc.oneof(
  fc.constantFrom(0 as const, 1 as const).map((sign) => DecimalValue.infinity(sign)),
  fc
    .record({
      sign: fc.constantFrom(0 as const, 1 as const),
      payload: fc.oneof(fc.constant(''), fc.stringMatching(/^[1-9][0-9]{0,20}$/)),
      signaling: fc.boolean(),
    })
    .map(({ sign, payload, signaling }) => DecimalValue.nan(sign, payload, signaling)),
);

export const decimals: fc.Arbitrary<DecimalValue> = fc.oneof(
  { arbitrary: finiteDecimals, weight: 4 },
  { arbitrary: specialDecimals, weight: 1 },
);

/** Python refuses offsets of a whole day or more; everything strictly inside is fair game. */
export const offsetsMinutes: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: -1439, max: 1439 }),
  fc.constantFrom(0, 1, -1, 330, -480, 1439, -1439, 60, -60),
);

export const dateTimes: fc.Arbitrary<DateTimeValue> = fc
  .record({
    year: fc.oneof(fc.integer({ min: 1, max: 9999 }), fc.constantFrom(1, 9999, 2000, 2024, 1900)),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 31 }),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.integer({ min: 0, max: 59 }),
    second: fc.integer({ min: 0, max: 59 }),
    microsecond: fc.oneof(fc.integer({ min: 0, max: 999_999 }), fc.constantFrom(0, 999_999)),
    offsetMinutes: offsetsMinutes,
  })
  .filter(({ year, month, day }) => day <= daysInMonth(year, month))
  .map((fields) => new DateTimeValue(fields));

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Well-formed text: ASCII, any code point (mostly astral), and composed graphemes. */
export const texts: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
  fc.constantFrom('', 'héllo ☃ 😀', '\u0000', '\uffff', '\u{10ffff}', '\u{1f600}\u{1f600}'),
);

export const byteStrings: fc.Arbitrary<Buffer> = fc
  .oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 1024 }))
  .map((bytes) => Buffer.from(bytes));

const pathSegments = fc
  .string({ unit: fc.oneof(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), minLength: 1, maxLength: 12 })
  .filter((segment) => segment !== '.' && segment !== '..' && !segment.includes('/') && !segment.includes('\0'));

/** Absolute, normalised paths: what a FilePath round-trips unchanged. */
export const absolutePaths: fc.Arbitrary<string> = fc
  .array(pathSegments, { maxLength: 6 })
  .map((segments) => '/' + segments.join('/'));

const latin1Char = fc.integer({ min: 0, max: 255 }).map((code) => String.fromCharCode(code));

/** Keys as latin1 strings (one char per byte), mostly short, sometimes at the 255-byte limit. */
export const boxKeys: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ unit: latin1Char, minLength: 1, maxLength: 12 }), weight: 6 },
  { arbitrary: fc.constantFrom('_ask', '_command', '_answer', '_error', 'A', 'a', '0', '\xff'), weight: 2 },
  { arbitrary: fc.string({ unit: latin1Char, minLength: MAX_KEY_LENGTH - 2, maxLength: MAX_KEY_LENGTH }), weight: 1 },
);

/** Values up to the 65535-byte limit; large ones are patterned rather than random to stay cheap. */
export const boxValues: fc.Arbitrary<Buffer> = fc.oneof(
  { arbitrary: fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)), weight: 8 },
  {
    arbitrary: fc
      .record({ length: fc.oneof(fc.integer({ min: 200, max: 0xffff }), fc.constantFrom(0xffff, 0xfffe, 256, 255)), seed: fc.nat(255) })
      .map(({ length, seed }) => patterned(length, seed)),
    weight: 1,
  },
);

export function patterned(length: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed + i * 131) & 0xff;
  return bytes;
}

/** A box as Twisted would send it: unique keys (a Map), any order of insertion. */
export const boxes: fc.Arbitrary<Map<string, Buffer>> = fc
  .uniqueArray(fc.tuple(boxKeys, boxValues), { selector: ([key]) => key, maxLength: 8 })
  .map((pairs) => new Map(pairs));

/** Up to a few boxes whose total stays well within what a test should push around. */
export const boxSequences: fc.Arbitrary<Map<string, Buffer>[]> = fc
  .array(boxes, { minLength: 1, maxLength: 5 })
  .filter((list) => list.reduce((n, box) => n + [...box.values()].reduce((m, v) => m + v.length, 0), 0) < 200_000);

/** Cut points in a byte string of `length` bytes: sorted, unique, strictly inside. */
export function splitPoints(length: number): fc.Arbitrary<number[]> {
  if (length < 2) return fc.constant([]);
  return fc
    .uniqueArray(fc.integer({ min: 1, max: length - 1 }), { maxLength: Math.min(40, length - 1) })
    .map((cuts) => cuts.sort((a, b) => a - b));
}

export function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let start = 0;
  for (const cut of cuts) {
    chunks.push(bytes.subarray(start, cut));
    start = cut;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}
