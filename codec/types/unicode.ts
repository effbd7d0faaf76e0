import { isUtf8 } from 'node:buffer';
import { InvalidValueError } from '../errors.js';
import { AmpType } from './amp-type.js';

/** Text as UTF-8. Both directions are strict, as Python's codec is: no lone surrogates. */
export class UnicodeType extends AmpType<string> {
  readonly name: string = 'Unicode';

  encode(value: string): string {
    if (typeof value !== 'string') throw new InvalidValueError(this.name, `expected a string, got ${typeof value}`);
    if (!value.isWellFormed()) throw new InvalidValueError(this.name, 'text contains a lone surrogate, which UTF-8 cannot encode');
    return value;
  }

  override get copiesOnDecode(): boolean {
    return true;
  }

  decode(bytes: Buffer): string {
    if (!isUtf8(bytes)) throw new InvalidValueError(this.name, 'bytes are not valid UTF-8');
    return bytes.utf8Slice(0, bytes.length);
  }

  override decodeRange(chunk: Buffer, start: number, end: number): string {
    const text = chunk.utf8Slice(start, end);
    // Invalid UTF-8 always comes out with U+FFFD in it: only then is the strict check needed.
    return text.includes('\uFFFD') ? this.decode(chunk.subarray(start, end)) : text;
  }
}
