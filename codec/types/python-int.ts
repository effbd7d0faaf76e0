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
