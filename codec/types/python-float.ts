/**
 * Python's float `repr` and `float()` parsing, which Twisted's Float type uses on the wire
 * (docs/amp-protocol.md §3.1). JavaScript already finds the shortest round-trip digits; only the layout differs.
 */

/** Formats like Python's repr(float): fixed notation for exponents -4..15, else d.ddde±XX. */
export function formatPythonFloat(value: number): string {
  if (value !== value) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (value === 0) return 1 / value < 0 ? '-0.0' : '0.0';
  const negative = value < 0;
  const text = String(negative ? -value : value);
  const e = text.indexOf('e');
  const mantissa = e < 0 ? text : text.slice(0, e);
  const dot = mantissa.indexOf('.');
  const intPart = dot < 0 ? mantissa : mantissa.slice(0, dot);
  let digits = dot < 0 ? intPart : intPart + mantissa.slice(dot + 1);
  // pointPosition: how many digits stand before the decimal point.
  let pointPosition = intPart.length + (e < 0 ? 0 : Number(text.slice(e + 1)));
  let lead = 0;
  while (digits.charCodeAt(lead) === 48) lead++;
  let tail = digits.length;
  while (tail > lead + 1 && digits.charCodeAt(tail - 1) === 48) tail--;
  digits = digits.slice(lead, tail);
  pointPosition -= lead;
  const exponent = pointPosition - 1;
  let body: string;
  if (exponent >= -4 && exponent < 16) {
    if (pointPosition <= 0) body = '0.' + '0'.repeat(-pointPosition) + digits;
    else if (pointPosition >= digits.length) body = digits + '0'.repeat(pointPosition - digits.length) + '.0';
    else body = digits.slice(0, pointPosition) + '.' + digits.slice(pointPosition);
  } else {
    const magnitude = Math.abs(exponent);
    body =
      digits[0]! +
      (digits.length > 1 ? '.' + digits.slice(1) : '') +
      (exponent < 0 ? 'e-' : 'e+') +
      (magnitude < 10 ? '0' : '') +
      magnitude;
  }
  return negative ? '-' + body : body;
}

const DIGITS = '[0-9](?:_?[0-9])*';
const PYTHON_FLOAT = new RegExp(
  `^[ \\t\\n\\r\\v\\f]*([+-]?)(?:(inf(?:inity)?)|(nan)|((?:${DIGITS}(?:\\.(?:${DIGITS})?)?|\\.${DIGITS})(?:[eE][+-]?${DIGITS})?))[ \\t\\n\\r\\v\\f]*$`,
  'i',
);

/** Python's float(): returns undefined where Python would raise ValueError. */
export function parsePythonFloat(text: string): number | undefined {
  const match = PYTHON_FLOAT.exec(text);
  if (match === null) return undefined;
  const negative = match[1] === '-';
  if (match[2] !== undefined) return negative ? -Infinity : Infinity;
  if (match[3] !== undefined) return NaN;
  const magnitude = Number(match[4]!.replaceAll('_', ''));
  return negative ? -magnitude : magnitude;
}
