/**
 * Python's `int(bytes)` as Twisted's Integer decoder uses it: surrounding ASCII whitespace, a sign,
 * leading zeros and PEP 515 underscores between digits are all accepted.
 */
const PYTHON_INT = /^[ \t\n\r\v\f]*([+-]?)([0-9](?:_?[0-9])*)[ \t\n\r\v\f]*$/;
const PLAIN_INT = /^-?[0-9]{1,15}$/;

/** CPython 3.11's default `sys.get_int_max_str_digits()`: longer decimal strings raise ValueError. */
export const PYTHON_INT_MAX_STR_DIGITS = 4300;

/** Returns undefined where Python's int() would raise. */
export function parsePythonInt(text: string): bigint | undefined {
  if (PLAIN_INT.test(text)) return BigInt(Number(text));
  const match = PYTHON_INT.exec(text);
  if (match === null) return undefined;
  const digits = match[2]!.includes('_') ? match[2]!.replaceAll('_', '') : match[2]!;
  if (digits.length > PYTHON_INT_MAX_STR_DIGITS) return undefined;
  const value = BigInt(digits);
  return match[1] === '-' ? -value : value;
}

/**
 * The common case read straight from bytes: an optional '-' then 1 to 15 ASCII digits (always a
 * safe integer). NaN for anything else, which then goes through `parsePythonInt`.
 */
export function parsePlainDecimal(chunk: Uint8Array, start: number, end: number): number {
  let at = start;
  const negative = at < end && chunk[at] === 0x2d;
  if (negative) at++;
  const digits = end - at;
  if (digits < 1 || digits > 15) return NaN;
  let value = 0;
  for (; at < end; at++) {
    const digit = chunk[at]! - 0x30;
    if (digit < 0 || digit > 9) return NaN;
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}
