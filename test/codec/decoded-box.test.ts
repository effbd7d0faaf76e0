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

describe('a disowned box goes round', () => {
  const entriesOf = (box: AmpBox) => [...box].map(([key, value]) => `${key}=${value.toString('latin1')}`);

  it('is emptied and reused by the decoder for a later box; a kept box never is', () => {
    const delivered: { box: AmpBox; entries: string[] }[] = [];
    let n = 0;
    const decoder = new BoxDecoder({
      onBox: (box) => {
        delivered.push({ box, entries: entriesOf(box) });
        // Every other box is disowned, the others kept.
        if (n++ % 2 === 0) (box as DecodedBox).disown();
      },
      onError: (error) => {
        throw error;
      },
    });
    const sent = Array.from({ length: 8 }, (_, i): Record<string, string> => (i % 3 === 0 ? { _answer: `${i}`, text: 'x'.repeat(i) } : { _answer: `${i}` }));
    for (const fields of sent) decoder.push(encodeBox(fields));
    expect(delivered.map(({ entries }) => entries)).toEqual(sent.map((fields) => Object.entries(fields).map(([key, value]) => `${key}=${value}`)));
    for (let i = 1; i < sent.length; i++) {
      // The box after a disowned one is that same object; the one after a kept box is a new one.
      if (i % 2 === 1) expect(delivered[i]!.box).toBe(delivered[i - 1]!.box);
      else expect(delivered.slice(0, i).map(({ box }) => box)).not.toContain(delivered[i]!.box);
    }
    // The kept boxes still read as they did when delivered.
    for (let i = 1; i < sent.length; i += 2) expect(entriesOf(delivered[i]!.box)).toEqual(delivered[i]!.entries);
  });

  it('is not kept for reuse when it was large enough to be indexed', () => {
    const boxes: AmpBox[] = [];
    const sizes: number[] = [];
    const decoder = new BoxDecoder({
      onBox: (box) => {
        boxes.push(box);
        sizes.push(box.size);
        (box as DecodedBox).disown();
      },
      onError: (error) => {
        throw error;
      },
    });
    decoder.push(encodeBox(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, `${i}`]))));
    decoder.push(encodeBox({ _answer: '1' }));
    expect(boxes[1]).not.toBe(boxes[0]);
    expect(sizes).toEqual([40, 1]);
  });
});
