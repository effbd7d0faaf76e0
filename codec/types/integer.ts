import { InvalidValueError } from '../errors.js';
import { AmpType } from './amp-type.js';
import { PYTHON_INT_MAX_STR_DIGITS, parsePlainDecimal, parsePythonInt } from './python-int.js';

/** Unbounded integers as ASCII decimal; decoded as bigint so nothing is ever rounded. */
export class IntegerType extends AmpType<bigint, bigint | number> {
  readonly name = 'Integer';

  encode(value: bigint | number): string {
    if (typeof value === 'number') {
      if (Number.isSafeInteger(value)) return String(value);
      if (!Number.isInteger(value)) throw new InvalidValueError(this.name, `${value} is not an integer`);
      value = BigInt(value);
    } else if (typeof value !== 'bigint') {
      throw new InvalidValueError(this.name, `expected a bigint or an integer number, got ${typeof value}`);
    }
    const text = value.toString();
    if (text.length - (value < 0n ? 1 : 0) > PYTHON_INT_MAX_STR_DIGITS) {
      throw new InvalidValueError(this.name, `more than ${PYTHON_INT_MAX_STR_DIGITS} digits, which Python refuses to convert`);
    }
    return text;
  }

  override get copiesOnDecode(): boolean {
    return true;
  }

  decode(bytes: Buffer): bigint {
    const value = parsePythonInt(bytes.latin1Slice(0, bytes.length));
    if (value === undefined) throw new InvalidValueError(this.name, `invalid literal ${JSON.stringify(bytes.latin1Slice(0, Math.min(bytes.length, 40)))}`);
    return value;
  }

  override decodeRange(chunk: Buffer, start: number, end: number): bigint {
    const plain = parsePlainDecimal(chunk, start, end);
    return plain === plain ? BigInt(plain) : this.decode(chunk.subarray(start, end));
  }
}

/**
 * The same wire format decoded as a JS number, for protocols whose integers are small (counts,
 * ids, return codes). Values outside the safe-integer range are refused rather than rounded.
 */
export class IntegerNumberType extends AmpType<number, number | bigint> {
  readonly name = 'Integer';
  private readonly wide = new IntegerType();

  encode(value: number | bigint): string {
    return this.wide.encode(value);
  }

  override get copiesOnDecode(): boolean {
    return true;
  }

  decode(bytes: Buffer): number {
    const value = this.wide.decode(bytes);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new InvalidValueError(this.name, `${value} is outside the safe integer range of a number`);
    }
    return Number(value);
  }

  override decodeRange(chunk: Buffer, start: number, end: number): number {
    const plain = parsePlainDecimal(chunk, start, end);
    // `+ 0` turns a "-0" into 0, as Number(-0n) does.
    return plain === plain ? plain + 0 : this.decode(chunk.subarray(start, end));
  }
}
