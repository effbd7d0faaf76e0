import { DateTimeValue, DecimalValue } from '../../codec/index.js';

/**
 * Deep equality on decoded AMP values: numbers by Object.is (so -0 and NaN count), bytes by
 * content, decimals and datetimes by their exact representation, absent keys as absent.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return Object.is(a, b);
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.compare(a, b) === 0;
  }
  if (a instanceof DecimalValue || b instanceof DecimalValue) {
    return a instanceof DecimalValue && b instanceof DecimalValue && a.equals(b);
  }
  if (a instanceof DateTimeValue || b instanceof DateTimeValue) {
    return a instanceof DateTimeValue && b instanceof DateTimeValue && a.equals(b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const present = (o: object) => Object.entries(o).filter(([, v]) => v !== undefined && v !== null);
    const left = present(a);
    const right = new Map(present(b));
    return left.length === right.size && left.every(([k, v]) => right.has(k) && sameValue(v, right.get(k)));
  }
  return a === b;
}

/** A readable rendering for assertion messages (bigints, buffers and -0 survive). */
export function show(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
    if (Object.is(v, -0)) return '-0';
    if (v !== null && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer') {
      return `<${Buffer.from((v as { data: number[] }).data).toString('hex')}>`;
    }
    return v;
  });
}

/** Buffers compare by content, value classes by their wire text (for `toEqual`, where NaN equals NaN). */
export function normalise(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return { bytes: value.toString('hex') };
  if (value instanceof DateTimeValue || value instanceof DecimalValue) return { text: value.toString() };
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  }
  return value;
}
