/**
 * A wall-clock time with microseconds and a fixed UTC offset in minutes: what AMP's DateTime
 * carries (docs/amp-protocol.md §3.3). JS Date keeps neither, so it is only a conversion target.
 */
export interface DateTimeFields {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour?: number;
  readonly minute?: number;
  readonly second?: number;
  readonly microsecond?: number;
  /** Minutes east of UTC; 0 for UTC. */
  readonly offsetMinutes?: number;
}

export class DateTimeValue {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly microsecond: number;
  readonly offsetMinutes: number;

  /** Validates as Python's datetime constructor does; throws RangeError. */
  constructor(fields: DateTimeFields) {
    this.year = check('year', fields.year, 1, 9999);
    this.month = check('month', fields.month, 1, 12);
    this.day = check('day', fields.day, 1, daysInMonth(this.year, this.month));
    this.hour = check('hour', fields.hour ?? 0, 0, 23);
    this.minute = check('minute', fields.minute ?? 0, 0, 59);
    this.second = check('second', fields.second ?? 0, 0, 59);
    this.microsecond = check('microsecond', fields.microsecond ?? 0, 0, 999_999);
    const offset = fields.offsetMinutes ?? 0;
    if (!Number.isInteger(offset)) throw new RangeError(`offsetMinutes must be an integer, got ${offset}`);
    this.offsetMinutes = offset;
  }

  /** The instant of `date`, shown at the given offset (UTC by default). */
  static fromDate(date: Date, offsetMinutes = 0): DateTimeValue {
    const ms = date.getTime();
    if (Number.isNaN(ms)) throw new RangeError('invalid Date');
    const local = new Date(ms + offsetMinutes * 60_000);
    return new DateTimeValue({
      year: local.getUTCFullYear(),
      month: local.getUTCMonth() + 1,
      day: local.getUTCDate(),
      hour: local.getUTCHours(),
      minute: local.getUTCMinutes(),
      second: local.getUTCSeconds(),
      microsecond: local.getUTCMilliseconds() * 1000,
      offsetMinutes,
    });
  }

  /** The instant, truncated to milliseconds. */
  toDate(): Date {
    const utc = Date.UTC(this.year, this.month - 1, this.day, this.hour, this.minute, this.second, Math.floor(this.microsecond / 1000));
    // Date.UTC maps years 0..99 to 1900..1999; set the year explicitly.
    const date = new Date(utc);
    date.setUTCFullYear(this.year);
    return new Date(date.getTime() - this.offsetMinutes * 60_000);
  }

  /** The 32-character wire text; UTC is `-00:00` because Twisted only writes `+` for offsets above zero. */
  toString(): string {
    const offset = this.offsetMinutes;
    const magnitude = Math.abs(offset);
    return (
      pad(this.year, 4) + '-' + pad(this.month, 2) + '-' + pad(this.day, 2) + 'T' +
      pad(this.hour, 2) + ':' + pad(this.minute, 2) + ':' + pad(this.second, 2) + '.' +
      pad(this.microsecond, 6) + (offset > 0 ? '+' : '-') +
      pad(Math.floor(magnitude / 60), 2) + ':' + pad(magnitude % 60, 2)
    );
  }

  equals(other: DateTimeValue): boolean {
    return this.toString() === other.toString();
  }

  toJSON(): string {
    return this.toString();
  }
}

function check(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${field} must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}
