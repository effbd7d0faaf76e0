import { expect } from 'vitest';
import { BoxDecoder, type AmpBox } from '../../codec/index.js';

/** Decodes bytes that must hold exactly one whole box, and returns it. */
export function decodeOne(bytes: Buffer): AmpBox {
  const boxes: AmpBox[] = [];
  const decoder = new BoxDecoder({
    onBox: (box) => boxes.push(box),
    onError: (error) => {
      throw error;
    },
  });
  decoder.push(bytes);
  expect(boxes).toHaveLength(1);
  expect(decoder.bufferedLength).toBe(0);
  return boxes[0]!;
}

/** A box's value as UTF-8 text. */
export function text(box: AmpBox, key: string): string | undefined {
  return box.get(key)?.toString('utf8');
}
