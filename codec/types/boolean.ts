import { InvalidValueError } from '../errors.js';
import { AmpType } from './amp-type.js';

/** Exactly `True` or `False`; Twisted refuses any other spelling. */
export class BooleanType extends AmpType<boolean> {
  readonly name = 'Boolean';

  encode(value: boolean): string {
    if (typeof value !== 'boolean') throw new InvalidValueError(this.name, `expected a boolean, got ${typeof value}`);
    return value ? 'True' : 'False';
  }

  override get copiesOnDecode(): boolean {
    return true;
  }

  decode(bytes: Buffer): boolean {
    const text = bytes.latin1Slice(0, bytes.length);
    if (text === 'True') return true;
    if (text === 'False') return false;
    throw new InvalidValueError(this.name, `expected True or False, got ${JSON.stringify(text.slice(0, 40))}`);
  }

  override decodeRange(chunk: Buffer, start: number, end: number): boolean {
    const length = end - start;
    if (length === 4 && chunk[start] === 0x54 && chunk[start + 1] === 0x72 && chunk[start + 2] === 0x75 && chunk[start + 3] === 0x65) return true;
    if (
      length === 5 && chunk[start] === 0x46 && chunk[start + 1] === 0x61 && chunk[start + 2] === 0x6c && chunk[start + 3] === 0x73 && chunk[start + 4] === 0x65
    ) {
      return false;
    }
    return this.decode(chunk.subarray(start, end));
  }
}
