import { InvalidValueError } from '../errors.js';
import { AmpType } from './amp-type.js';
import { DateTimeValue } from './datetime-value.js';
import { parsePythonInt } from './python-int.js';

/** Field positions in the 32-character text, as Twisted slices them; separators are not checked. */
const FIELDS = [
  [0, 4], [5, 7], [8, 10], [11, 13], [14, 16], [17, 19], [20, 26], [27, 29], [30, 32],
] as const;

/** Python's utcoffset() must be strictly within a day, or serialising raises. */
const MAX_OFFSET_MINUTES = 24 * 60 - 1;

export class DateTimeType extends AmpType<DateTimeValue> {
  readonly name = 'DateTime';

  encode(value: DateTimeValue): string {
    if (!(value instanceof DateTimeValue)) {
      throw new InvalidValueError(this.name, 'can only encode DateTimeValue instances (use DateTimeValue.fromDate)');
    }
    if (Math.abs(value.offsetMinutes) > MAX_OFFSET_MINUTES) {
      throw new InvalidValueError(this.name, `offset of ${value.offsetMinutes} minutes is not strictly within one day`);
    }
    return value.toString();
  }

  override get copiesOnDecode(): boolean {
    return true;
  }

  decode(bytes: Buffer): DateTimeValue {
    if (bytes.length !== 32) throw new InvalidValueError(this.name, `expected 32 characters, got ${bytes.length}`);
    const text = bytes.latin1Slice(0, 32);
    if (!/^[\x00-\x7f]*$/.test(text)) throw new InvalidValueError(this.name, 'text is not ASCII');
    const numbers = FIELDS.map(([start, end]) => {
      const value = parsePythonInt(text.slice(start, end));
      if (value === undefined) throw new InvalidValueError(this.name, `invalid number ${JSON.stringify(text.slice(start, end))} in ${JSON.stringify(text)}`);
      return Number(value);
    });
    const sign = text[26];
    if (sign !== '+' && sign !== '-') throw new InvalidValueError(this.name, `invalid offset sign ${JSON.stringify(sign)}`);
    const [year, month, day, hour, minute, second, microsecond, offsetHours, offsetMinutes] = numbers as [
      number, number, number, number, number, number, number, number, number,
    ];
    const offset = (offsetHours * 60 + offsetMinutes) * (sign === '-' ? -1 : 1);
    try {
      return new DateTimeValue({ year, month, day, hour, minute, second, microsecond, offsetMinutes: offset });
    } catch (error) {
      throw new InvalidValueError(this.name, (error as Error).message, { cause: error });
    }
  }
}
