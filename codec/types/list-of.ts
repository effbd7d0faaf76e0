import { InvalidValueError } from '../errors.js';
import { MAX_VALUE_LENGTH } from '../box.js';
import { AmpType, decodesToCopies } from './amp-type.js';

/**
 * A list of one element type, each element `[u16 length][bytes]` (docs/amp-protocol.md §3.4). A trailing incomplete
 * element is dropped on decode, as Twisted's parser drops it.
 */
export class ListOfType<Out, In> extends AmpType<Out[], readonly In[]> {
  readonly name: string;

  constructor(readonly element: AmpType<Out, In>) {
    super();
    this.name = `ListOf(${element.name})`;
  }

  encode(values: readonly In[]): Buffer {
    if (!Array.isArray(values)) throw new InvalidValueError(this.name, `expected an array, got ${typeof values}`);
    const parts: Buffer[] = [];
    let total = 0;
    for (const value of values) {
      const encoded = this.element.encode(value);
      const bytes = typeof encoded === 'string' ? Buffer.from(encoded, 'utf8') : Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
      if (bytes.length > MAX_VALUE_LENGTH) {
        throw new InvalidValueError(this.name, `element of ${bytes.length} bytes exceeds the 65535-byte element limit`);
      }
      parts.push(bytes);
      total += 2 + bytes.length;
    }
    const out = Buffer.allocUnsafe(total);
    let offset = 0;
    for (const part of parts) {
      out[offset] = part.length >>> 8;
      out[offset + 1] = part.length & 0xff;
      part.copy(out, offset + 2);
      offset += 2 + part.length;
    }
    return out;
  }

  override get copiesOnDecode(): boolean {
    return decodesToCopies(this.element);
  }

  decode(bytes: Buffer): Out[] {
    const values: Out[] = [];
    let offset = 0;
    while (offset + 2 <= bytes.length) {
      const length = (bytes[offset]! << 8) | bytes[offset + 1]!;
      const end = offset + 2 + length;
      if (end > bytes.length) break;
      values.push(this.element.decode(bytes.subarray(offset + 2, end)));
      offset = end;
    }
    return values;
  }
}
