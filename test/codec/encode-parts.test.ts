import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareKeys, encodeSortedPairs } from '../../codec/index.js';
import { encodeSortedPairsParts } from '../../codec/encode-box.js';
import { Echo } from '../fixtures/commands.js';

describe('zero-copy frames', () => {
  it('are the same bytes as one-buffer encoding, for any pairs and threshold', () => {
    const value = fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string({ maxLength: 40 }), fc.constant(undefined));
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z_]{1,6}$/), { maxLength: 8 }), fc.array(value, { maxLength: 8 }), fc.nat(200), (names, values, threshold) => {
        const keys = [...names].sort(compareKeys);
        const wire = keys.map((_, i) => values[i]);
        const whole = encodeSortedPairs(keys, wire);
        const parts = encodeSortedPairsParts(keys, wire, threshold);
        expect(Buffer.concat(Array.isArray(parts) ? parts : [parts]).equals(whole)).toBe(true);
      }),
    );
  });

  it('reference a large value instead of copying it', () => {
    const data = Buffer.alloc(60_000, 7);
    const parts = Echo.encodeRequestParts('1', { data }, 8192);
    expect(Array.isArray(parts)).toBe(true);
    const list = parts as Buffer[];
    expect(list.some((part) => part.buffer === data.buffer && part.length === data.length)).toBe(true);
    expect(Buffer.concat(list).equals(Echo.encodeRequest('1', { data }))).toBe(true);
  });
});
