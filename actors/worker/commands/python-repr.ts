/**
 * Python's `repr()` for the JSON-like values a master sends. Buildbot formats some headers with
 * Python's `str.format`, so `argv: [b'ls', b'-l']` and `watching logfiles {'test': 'out.log'}` show
 * Python syntax; masters and users see (and sometimes parse) exactly that.
 */

const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

export function pythonRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return pythonNumberRepr(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return pythonStringRepr(value);
  if (Buffer.isBuffer(value)) return pythonBytesRepr(value);
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  if (typeof value === 'object') {
    const items = Object.entries(value).map(([key, item]) => `${pythonStringRepr(key)}: ${pythonRepr(item)}`);
    return `{${items.join(', ')}}`;
  }
  return String(value);
}

function pythonNumberRepr(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  return String(value);
}

function chooseQuote(containsSingle: boolean, containsDouble: boolean): string {
  return containsSingle && !containsDouble ? '"' : "'";
}

export function pythonStringRepr(text: string): string {
  const quote = chooseQuote(text.includes("'"), text.includes('"'));
  let body = '';
  for (const char of text) {
    if (char === quote || char === '\\') body += `\\${char}`;
    else if (char === '\n') body += '\\n';
    else if (char === '\r') body += '\\r';
    else if (char === '\t') body += '\\t';
    else if (char !== ' ' && NON_PRINTABLE.test(char)) body += escapeCodePoint(char.codePointAt(0) as number);
    else body += char;
  }
  return quote + body + quote;
}

function escapeCodePoint(codePoint: number): string {
  if (codePoint < 0x100) return `\\x${codePoint.toString(16).padStart(2, '0')}`;
  if (codePoint < 0x10000) return `\\u${codePoint.toString(16).padStart(4, '0')}`;
  return `\\U${codePoint.toString(16).padStart(8, '0')}`;
}

/** `repr(bytes)`; a string stands for its UTF-8 encoding (Buildbot encodes argv before printing it). */
export function pythonBytesRepr(data: Buffer | string): string {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
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
