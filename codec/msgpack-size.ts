import { encode } from '@msgpack/msgpack';

/**
 * The number of bytes `encode(value, { ignoreUndefined: true })` of @msgpack/msgpack produces,
 * computed without encoding: callers that only need to know whether a value fits (an AMP value is
 * at most 65,535 bytes) would otherwise encode everything twice, once to measure and once to send.
 * Plain data (what updates carry) is counted here; anything exotic (a Date, a Map, an extension)
 * is rare enough to be measured by encoding it. Throws what `encode` throws for unencodable values.
 */
export function msgpackEncodedSize(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 1;
  if (typeof value === 'number') return numberSize(value);
  if (typeof value === 'string') return stringSize(value);
  if (Array.isArray(value)) {
    let size = lengthHeader(value.length, 16);
    for (const item of value) size += msgpackEncodedSize(item);
    return size;
  }
  if (value instanceof Uint8Array) return binaryHeader(value.byteLength) + value.byteLength;
  if (isPlainObject(value)) {
    let entries = 0;
    let size = 0;
    for (const key of Object.keys(value)) {
      const item = value[key];
      if (item === undefined) continue;
      entries += 1;
      size += stringSize(key) + msgpackEncodedSize(item);
    }
    return lengthHeader(entries, 16) + size;
  }
  return encode(value, { ignoreUndefined: true }).length;
}

function numberSize(value: number): number {
  if (!Number.isSafeInteger(value)) return 9;
  if (value >= 0) return value < 0x80 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : value < 0x100000000 ? 5 : 9;
  return value >= -0x20 ? 1 : value >= -0x80 ? 2 : value >= -0x8000 ? 3 : value >= -0x80000000 ? 5 : 9;
}

function stringSize(value: string): number {
  const bytes = Buffer.byteLength(value, 'utf8');
  return (bytes < 32 ? 1 : bytes < 0x100 ? 2 : bytes < 0x10000 ? 3 : 5) + bytes;
}

/** Arrays and maps: a fix form below `fixLimit`, then 16- and 32-bit lengths. */
function lengthHeader(length: number, fixLimit: number): number {
  return length < fixLimit ? 1 : length < 0x10000 ? 3 : 5;
}

function binaryHeader(length: number): number {
  return length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
