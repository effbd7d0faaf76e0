/**
 * Python's `repr()`, byte for byte, wherever a peer shows Python's text: Twisted's `UNHANDLED`
 * descriptions (`Unhandled Command: b'NoSuchCommand'`), Buildbot's headers formatted with
 * `str.format` (`argv: [b'ls', b'-l']`, `watching logfiles {'test': 'out.log'}`), trial's todo
 * reasons (`Reason: 'known to be broken'`). Foreign peers and users match (and parse) that text.
 */

// Python's str.isprintable(): everything but the Other (C*) and Separator (Z*) categories, space kept.
const NON_PRINTABLE = /[\p{C}\p{Z}]/u;

const utf8 = new TextEncoder();

/** `repr()` of JSON-like values: None, booleans, numbers, str, bytes, lists and dicts. */
export function pythonRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return pythonNumberRepr(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return pythonStrRepr(value);
  if (value instanceof Uint8Array) return pythonBytesRepr(value);
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  if (typeof value === 'object') {
    const items = Object.entries(value).map(([key, item]) => `${pythonStrRepr(key)}: ${pythonRepr(item)}`);
    return `{${items.join(', ')}}`;
  }
  return String(value);
}

/** `repr(str)`: printable characters as they are, the rest escaped as `\xNN`, `\uNNNN` or `\UNNNNNNNN`. */
export function pythonStrRepr(text: string): string {
  const quote = chooseQuote(text.includes("'"), text.includes('"'));
  let body = '';
  for (const char of text) {
    if (char === quote || char === '\\') body += `\\${char}`;
    else if (char === '\n') body += '\\n';
    else if (char === '\r') body += '\\r';
    else if (char === '\t') body += '\\t';
    else if (char !== ' ' && NON_PRINTABLE.test(char)) body += escapeCodePoint(char.codePointAt(0)!);
    else body += char;
  }
  return quote + body + quote;
}

/** `repr(bytes)`; a string stands for its UTF-8 encoding (Buildbot encodes argv before printing it). */
export function pythonBytesRepr(data: Uint8Array | string): string {
  const bytes = typeof data === 'string' ? utf8.encode(data) : data;
  const quote = chooseQuote(bytes.includes(0x27), bytes.includes(0x22));
  let body = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    if (char === quote || char === '\\') body += `\\${char}`;
    else if (char === '\n') body += '\\n';
    else if (char === '\r') body += '\\r';
    else if (char === '\t') body += '\\t';
    else if (byte < 0x20 || byte >= 0x7f) body += `\\x${byte.toString(16).padStart(2, '0')}`;
    else body += char;
  }
  return `b${quote}${body}${quote}`;
}

function pythonNumberRepr(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  return String(value);
}

/** Python quotes with `'` unless the text holds a `'` and no `"`. */
function chooseQuote(containsSingle: boolean, containsDouble: boolean): string {
  return containsSingle && !containsDouble ? '"' : "'";
}

function escapeCodePoint(codePoint: number): string {
  if (codePoint < 0x100) return `\\x${codePoint.toString(16).padStart(2, '0')}`;
  if (codePoint < 0x10000) return `\\u${codePoint.toString(16).padStart(4, '0')}`;
  return `\\U${codePoint.toString(16).padStart(8, '0')}`;
}
