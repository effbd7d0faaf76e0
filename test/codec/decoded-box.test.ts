import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoxDecoder, encodeBox, type AmpBox } from '../../codec/index.js';
import { DecodedBox } from '../../codec/decoded-box.js';

function decode(bytes: Buffer): AmpBox {
  const boxes: AmpBox[] = [];
  new BoxDecoder({ onBox: (box) => boxes.push(box), onError: (error) => { throw error; } }).push(bytes);
  return boxes[0]!;
}

describe('DecodedBox', () => {
  it('behaves as a read-only Map of the pairs, last value winning for a repeated key', () => {
    const chunk = Buffer.from('abcdef');
    const box = new DecodedBox();
    box.add('a', chunk, 0, 1);
    box.add('b', chunk, 1, 3);
    box.add('a', chunk, 3, 6);
    expect(box.size).toBe(2);
    expect(box.get('a')?.toString()).toBe('def');
    expect(box.get('a')).toBe(box.get('a'));
    expect(box.has('b')).toBe(true);
    expect(box.has('c')).toBe(false);
    expect([...box.keys()]).toEqual(['a', 'b']);
    expect(new Map([...box].map(([k, v]) => [k, v.toString()]))).toEqual(new Map([['a', 'def'], ['b', 'bc']]));
    const seen: string[] = [];
    box.forEach((value, key) => seen.push(`${key}=${value}`));
    expect(seen).toEqual(['a=def', 'b=bc']);
  });

  it('agrees with a Map for any pairs, repeated keys and large boxes included', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.stringMatching(/^[a-e_]{1,3}$/), fc.uint8Array({ maxLength: 8 })), { maxLength: 60 }), (pairs) => {
        const expected = new Map<string, string>();
        const box = new DecodedBox();
        const chunk = Buffer.concat(pairs.map(([, value]) => Buffer.from(value)));
        let offset = 0;
        for (const [key, value] of pairs) {
          box.add(key, chunk, offset, offset + value.length);
          expected.set(key, Buffer.from(value).toString('hex'));
          offset += value.length;
        }
        expect(box.size).toBe(expected.size);
        for (const [key, value] of expected) expect(box.get(key)?.toString('hex')).toBe(value);
        expect([...box.keys()]).toEqual([...expected.keys()]);
      }),
    );
  });

  it('is what the decoder delivers, with each value the bytes of the wire', () => {
    const box = decode(encodeBox({ _ask: '1', _command: 'Hello', name: Buffer.from([0, 255]) }));
    expect(box).toBeInstanceOf(DecodedBox);
    expect(box.get('name')).toEqual(Buffer.from([0, 255]));
    expect(box.get('_command')?.toString()).toBe('Hello');
  });
});
