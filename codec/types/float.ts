import { InvalidValueError } from '../errors.js';
import { AmpType } from './amp-type.js';
import { formatPythonFloat, parsePythonFloat } from './python-float.js';

/** IEEE-754 doubles in Python's repr format; decoding is as lenient as Python's float(). */
export class FloatType extends AmpType<number> {
  readonly name = 'Float';

  encode(value: number): string {
    if (typeof value !== 'number') throw new InvalidValueError(this.name, `expected a number, got ${typeof value}`);
    return formatPythonFloat(value);
  }

  override get copiesOnDecode(): boolean {
    return true;
  }

  decode(bytes: Buffer): number {
    const value = parsePythonFloat(bytes.latin1Slice(0, bytes.length));
    if (value === undefined) {
      throw new InvalidValueError(this.name, `could not convert ${JSON.stringify(bytes.latin1Slice(0, Math.min(bytes.length, 40)))} to float`);
    }
    return value;
  }

  override decodeRange(chunk: Buffer, start: number, end: number): number {
    return parsePythonFloat(chunk.latin1Slice(start, end)) ?? this.decode(chunk.subarray(start, end));
  }
}
