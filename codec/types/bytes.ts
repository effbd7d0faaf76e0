import { InvalidValueError } from '../errors.js';
import { AmpType } from './amp-type.js';

/** Twisted's String: raw bytes, unchanged. */
export class BytesType extends AmpType<Buffer, Uint8Array> {
  readonly name = 'String';

  encode(value: Uint8Array): Uint8Array {
    if (!(value instanceof Uint8Array)) {
      throw new InvalidValueError(this.name, `expected bytes (Buffer or Uint8Array), got ${typeof value}`);
    }
    return value;
  }

  decode(bytes: Buffer): Buffer {
    return bytes;
  }
}
