/**
 * A decimal number that keeps its coefficient and exponent exactly as Python's decimal.Decimal does,
 * so `1.0` and `1` stay distinct and every special value survives a round trip (docs/amp-protocol.md §3.2). Most JS
 * decimal libraries normalise, which would change bytes on the wire.
 */
export type DecimalKind = 'finite' | 'infinity' | 'nan' | 'snan';

/**
 * Python's Decimal() first strips surrounding str.isspace() characters (in ASCII that includes
 * \x1c-\x1f), then drops every underscore, then reads a strict literal: so `_1_` is 1, while in
 * `_ 1` the space ends up inside the literal and is refused.
 */
const SURROUNDING_SPACE = /^[ \t\n\r\v\f\x1c-\x1f]+|[ \t\n\r\v\f\x1c-\x1f]+$/g;
const DECIMAL_LITERAL = /^([+-]?)(?:(?=[0-9]|\.[0-9])([0-9]*)(?:\.([0-9]*))?(?:e([+-]?[0-9]+))?|(inf(?:inity)?)|(s?)nan([0-9]*))$/i;

export class DecimalValue {
  private constructor(
    /** 1 for negative, as in Python's `as_tuple().sign`. */
    readonly sign: 0 | 1,
    readonly kind: DecimalKind,
    /** Coefficient digits without leading zeros ("0" for zero); for NaNs the payload ("" if none). */
    readonly digits: string,
    /** Power of ten of the last coefficient digit; 0 for specials. */
    readonly exponent: number,
  ) {}

  static finite(sign: 0 | 1, digits: string, exponent: number): DecimalValue {
    if (!/^[0-9]+$/.test(digits)) throw new RangeError(`decimal coefficient must be digits, got ${JSON.stringify(digits)}`);
    if (!Number.isSafeInteger(exponent)) throw new RangeError(`decimal exponent must be a safe integer, got ${exponent}`);
    return new DecimalValue(sign, 'finite', stripLeadingZeros(digits) || '0', exponent);
  }

  static infinity(sign: 0 | 1 = 0): DecimalValue {
    return new DecimalValue(sign, 'infinity', '', 0);
  }

  static nan(sign: 0 | 1 = 0, payload = '', signaling = false): DecimalValue {
    return new DecimalValue(sign, signaling ? 'snan' : 'nan', stripLeadingZeros(payload), 0);
  }

  /** Parses what Python's Decimal(str) accepts; throws SyntaxError where Python raises. */
  static parse(text: string): DecimalValue {
    const match = DECIMAL_LITERAL.exec(text.replace(SURROUNDING_SPACE, '').replaceAll('_', ''));
    if (match === null) throw new SyntaxError(`invalid decimal literal ${JSON.stringify(text.slice(0, 40))}`);
    const sign = match[1] === '-' ? 1 : 0;
    if (match[5] !== undefined) return DecimalValue.infinity(sign);
    if (match[7] !== undefined) return DecimalValue.nan(sign, match[7], match[6] !== '');
    const fraction = match[3] ?? '';
    const exponent = (match[4] === undefined ? 0 : Number(match[4])) - fraction.length;
    if (!Number.isSafeInteger(exponent)) throw new SyntaxError(`decimal exponent out of range in ${JSON.stringify(text.slice(0, 40))}`);
    return DecimalValue.finite(sign, (match[2] ?? '') + fraction || '0', exponent);
  }

  /** From a JS number (its shortest round-trip digits), a bigint, or decimal text. */
  static from(value: number | bigint | string): DecimalValue {
    if (typeof value === 'string') return DecimalValue.parse(value);
    if (typeof value === 'bigint') return DecimalValue.parse(value.toString());
    if (Number.isNaN(value)) return DecimalValue.nan();
    if (!Number.isFinite(value)) return DecimalValue.infinity(value < 0 ? 1 : 0);
    const parsed = DecimalValue.parse(String(value));
    return Object.is(value, -0) ? DecimalValue.finite(1, '0', 0) : parsed;
  }

  get isFinite(): boolean {
    return this.kind === 'finite';
  }

  get isNaN(): boolean {
    return this.kind === 'nan' || this.kind === 'snan';
  }

  /** Python's str(Decimal): scientific notation with `E` when the exponent is positive or the value tiny. */
  toString(): string {
    const sign = this.sign === 1 ? '-' : '';
    if (this.kind === 'infinity') return sign + 'Infinity';
    if (this.kind === 'nan') return sign + 'NaN' + this.digits;
    if (this.kind === 'snan') return sign + 'sNaN' + this.digits;
    const digits = this.digits;
    const leftDigits = this.exponent + digits.length;
    const dotPlace = this.exponent <= 0 && leftDigits > -6 ? leftDigits : 1;
    let intPart: string;
    let fracPart: string;
    if (dotPlace <= 0) {
      intPart = '0';
      fracPart = '.' + '0'.repeat(-dotPlace) + digits;
    } else if (dotPlace >= digits.length) {
      intPart = digits + '0'.repeat(dotPlace - digits.length);
      fracPart = '';
    } else {
      intPart = digits.slice(0, dotPlace);
      fracPart = '.' + digits.slice(dotPlace);
    }
    const shift = leftDigits - dotPlace;
    const exponent = shift === 0 ? '' : 'E' + (shift > 0 ? '+' : '-') + Math.abs(shift);
    return sign + intPart + fracPart + exponent;
  }

  /** Same representation: sign, kind, digits and exponent (so 1.0 and 1 differ, as on the wire). */
  equals(other: DecimalValue): boolean {
    return (
      this.sign === other.sign &&
      this.kind === other.kind &&
      this.digits === other.digits &&
      this.exponent === other.exponent
    );
  }

  /** Nearest double; precision may be lost. */
  toNumber(): number {
    if (this.kind === 'infinity') return this.sign === 1 ? -Infinity : Infinity;
    if (this.isNaN) return NaN;
    return Number(`${this.sign === 1 ? '-' : ''}${this.digits}e${this.exponent}`);
  }

  toJSON(): string {
    return this.toString();
  }
}

function stripLeadingZeros(digits: string): string {
  let i = 0;
  while (i < digits.length && digits.charCodeAt(i) === 48) i++;
  return digits.slice(i);
}
