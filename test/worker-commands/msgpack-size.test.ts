/**
 * The update batcher measures entries without encoding them (codec/msgpack-size.ts): the count
 * must equal what @msgpack/msgpack writes, at every length boundary of every format.
 */
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { msgpackEncodedSize } from '../../codec/msgpack-size.js';

const boundaries = [0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536];
const integers = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1];

const values: unknown[] = [
  null,
  undefined,
  true,
  false,
  ...integers,
  -0,
  0.5,
  NaN,
  Infinity,
  2 ** 60,
  ...boundaries.map((n) => 'x'.repeat(n)),
  'é€😀'.repeat(40),
  ...boundaries.map((n) => Buffer.alloc(n)),
  new Uint8Array(300),
  ...[0, 15, 16, 65536].map((n) => new Array<number>(n).fill(1)),
  [undefined, 1],
  Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])),
  { a: undefined, b: 1 },
  Object.assign(Object.create(null) as object, { a: 'b' }),
  new Date(0),
  // What a stat-like update carries.
  [['stat', [33188, 1, 2, 1, 0, 0, 4096, 1.7e9, 1.7e9, 1.7e9]], ['files', { 'a.txt': [1, 2], sub: null }], ['log', ['stdio', 'line\n'.repeat(1000)]]],
];

describe('msgpackEncodedSize', () => {
  for (const [index, value] of values.entries()) {
    const kind = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
    const length = (value as { length?: unknown } | null)?.length;
    it(`counts value ${index} (${kind}${typeof length === 'number' ? ` of ${length}` : ''}) as encode() writes it`, () => {
      expect(msgpackEncodedSize(value)).toBe(encode(value, { ignoreUndefined: true }).length);
    });
  }

  it('counts any JSON-like value as encode() writes it', () => {
    const anyValue = fc.oneof(fc.jsonValue(), fc.uint8Array({ maxLength: 300 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), anyValue)), (entries) => {
        expect(msgpackEncodedSize(entries)).toBe(encode(entries, { ignoreUndefined: true }).length);
      }),
    );
  });

  it('throws for what cannot be encoded, as encode does', () => {
    expect(() => msgpackEncodedSize([() => undefined])).toThrow();
  });
});
