/**
 * An answer whose every value is a copy (text, numbers, dates) refers to none of the bytes of its
 * box: the dispatcher then disowns the box, so that the decoder reuses it and its read slab may be
 * read into again. A value that is a view of the box (String) keeps the box, as does any type
 * whose `decode` comes from a class that did not say so.
 */
import { describe, expect, it } from 'vitest';
import { BoxDispatcher } from '../../actors/amp/dispatcher.js';
import { BoxDecoder, amp, defineCommand, type AmpBox } from '../../codec/index.js';
import { DecodedBox } from '../../codec/decoded-box.js';
import { decodesToCopies } from '../../codec/types/amp-type.js';
import { UnicodeType } from '../../codec/types/unicode.js';

class ShoutedText extends UnicodeType {
  override decode(bytes: Buffer): string {
    return super.decode(bytes).toUpperCase();
  }
}

describe('decodesToCopies', () => {
  it('is true of the types whose values are copies, and of lists of them', () => {
    for (const type of [amp.Integer, amp.IntegerNumber, amp.Unicode, amp.Boolean, amp.Float, amp.Decimal, amp.DateTime, amp.Path]) {
      expect(decodesToCopies(type), type.name).toBe(true);
    }
    expect(decodesToCopies(amp.ListOf(amp.ListOf(amp.Integer)))).toBe(true);
    expect(decodesToCopies(amp.AmpList({ a: amp.Integer, b: amp.Unicode.optional() }))).toBe(true);
  });

  it('is false of bytes, of lists that hold bytes, and of types it cannot vouch for', () => {
    const custom = amp.defineType({ name: 'Custom', encode: (value: string) => value, decode: (bytes) => bytes.toString() });
    for (const type of [amp.String, amp.ListOf(amp.String), amp.AmpList({ a: amp.Integer, b: amp.String }), amp.Msgpack(), amp.ByteStream, amp.Descriptor, custom]) {
      expect(decodesToCopies(type), type.name).toBe(false);
    }
    // Its class defines `decode` and says nothing: its values might be anything.
    expect(decodesToCopies(new ShoutedText())).toBe(false);
  });
});

describe('an answer that decodes to copies', () => {
  const Text = defineCommand({ name: 'Text', response: { text: amp.Unicode, n: amp.Integer } });
  const Bytes = defineCommand({ name: 'Bytes', response: { data: amp.String } });

  /** Calls `command`, feeds its answer through a decoder, and says whether the box was disowned. */
  async function disowned(command: typeof Text | typeof Bytes, answer: Record<string, unknown>): Promise<{ disowned: boolean; value: unknown }> {
    const dispatcher = new BoxDispatcher({
      sendRequest: () => {},
      requestSink: () => undefined,
      onCommand: () => {},
      onProtocolError: (error) => {
        throw error;
      },
    });
    const call = dispatcher.callRemote(command, {} as never);
    let box: AmpBox | undefined;
    let disownedNow = false;
    new BoxDecoder({
      onBox: (delivered) => {
        box = delivered;
        dispatcher.ampBoxReceived(delivered);
        expect(delivered).toBeInstanceOf(DecodedBox);
        // Read before the delivery returns: a disowned box is emptied then.
        disownedNow = (delivered as DecodedBox).disowned;
      },
      onError: (error) => {
        throw error;
      },
    }).push(command.encodeAnswer('1', answer as never));
    expect(box).toBeDefined();
    return { disowned: disownedNow, value: await call };
  }

  it('lets its box go', async () => {
    expect(await disowned(Text, { text: 'é', n: 5 })).toEqual({ disowned: true, value: { text: 'é', n: 5n } });
  });

  it('and one that holds bytes keeps it', async () => {
    expect(await disowned(Bytes, { data: Buffer.from('abc') })).toEqual({ disowned: false, value: { data: Buffer.from('abc') } });
  });
});
