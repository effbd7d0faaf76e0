/**
 * Python's repr() of a bytes object, which Twisted puts into `UNHANDLED` descriptions
 * (`Unhandled Command: b'NoSuchCommand'`), so foreign peers can match the text exactly.
 */
export function pythonBytesRepr(bytes: Uint8Array): string {
  let hasSingle = false;
  let hasDouble = false;
  for (const byte of bytes) {
    if (byte === 0x27) hasSingle = true;
    else if (byte === 0x22) hasDouble = true;
  }
  const quote = hasSingle && !hasDouble ? 0x22 : 0x27;
  let out = 'b' + String.fromCharCode(quote);
  for (const byte of bytes) {
    if (byte === quote || byte === 0x5c) out += '\\' + String.fromCharCode(byte);
    else if (byte === 0x09) out += '\\t';
    else if (byte === 0x0a) out += '\\n';
    else if (byte === 0x0d) out += '\\r';
    else if (byte < 0x20 || byte >= 0x7f) out += '\\x' + byte.toString(16).padStart(2, '0');
    else out += String.fromCharCode(byte);
  }
  return out + String.fromCharCode(quote);
}
