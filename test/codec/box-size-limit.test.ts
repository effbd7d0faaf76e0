/**
 * A received box may not grow past its limit (docs/amp-protocol.md §1.4): the decoder fails on the
 * string that takes it past, as the framing machine given the same limit does.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { BoxDecoder, BoxTooLargeError, encodeBox, type AmpBox, type FramingError } from '../../codec/index.js';
import { framingMachine } from '../../machines/framing.js';

const LIMIT = 1000;

/** One key `k` with a `valueLength`-byte value: 2 + 1 + 2 + valueLength bytes. */
const pair = (key: string, valueLength: number) => [key, Buffer.alloc(valueLength, 0x61)] as const;

function decode(chunks: Buffer[]): { boxes: AmpBox[]; errors: FramingError[] } {
  const boxes: AmpBox[] = [];
  const errors: FramingError[] = [];
  const decoder = new BoxDecoder({ onBox: (box) => boxes.push(box), onError: (error) => errors.push(error) }, LIMIT);
  for (const chunk of chunks) decoder.push(chunk);
  return { boxes, errors };
}

const bytesOf = (bytes: Buffer) => Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));

describe('the box size limit', () => {
  // 995 bytes before the terminator, 997 with it.
  const exact = encodeBox(Object.fromEntries([pair('a', 495), pair('b', 490)]));
  // 995 bytes, a key (998), then a 10-byte value: 1,010, past the limit.
  const over = Buffer.concat([exact.subarray(0, 995), Buffer.from([0x00, 0x01, 0x63, 0x00, 0x0a]), Buffer.alloc(10, 0x62)]);

  it('delivers a box up to the limit, and counts the next box from zero', () => {
    expect(exact.length).toBe(997);
    for (const chunks of [[Buffer.concat([exact, exact])], bytesOf(Buffer.concat([exact, exact]))]) {
      const { boxes, errors } = decode(chunks);
      expect(errors).toEqual([]);
      expect(boxes).toHaveLength(2);
    }
  });

  it('fails on the string that takes a box past it, whole or a byte at a time', () => {
    for (const chunks of [[over], bytesOf(over)]) {
      const { boxes, errors } = decode(chunks);
      expect(boxes).toEqual([]);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(BoxTooLargeError);
      expect(errors[0]).toMatchObject({ code: 'AMP_ERR_BOX_TOO_LARGE', limit: LIMIT, size: 1010, stringLength: 10 });
    }
  });

  it('is where the framing machine given the same limit fails too', () => {
    const run = (lengths: number[]) => {
      const actor = createActor(framingMachine, { input: { maxBoxBytes: LIMIT } }).start();
      const states = lengths.map((length) => {
        actor.send({ type: 'string', length });
        return actor.getSnapshot().value;
      });
      return { states, boxes: actor.getSnapshot().context.boxes };
    };
    // The strings of `exact` twice, then those of `over`.
    const exactStrings = [1, 495, 1, 490, 0];
    expect(run([...exactStrings, ...exactStrings])).toEqual({ states: [...Array(2)].flatMap(() => ['value', 'key', 'value', 'key', 'init']), boxes: 2 });
    expect(run([1, 495, 1, 490, 1, 10]).states).toEqual(['value', 'key', 'value', 'key', 'value', 'failed']);
  });
});
