/**
 * Typed values for `ampstate call`: the `key:TYPE=value` field syntax, and schema files naming each
 * command's argument and response types with the vocabulary of codec/types (Integer, Float, Boolean,
 * Decimal, DateTime, String, Unicode, ListOf(...), AmpList). Everything here runs before a
 * connection exists, so a wrong argument never reaches the server.
 */
import { readFileSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { AmpStateError } from '../../codec/errors.js';
import type { AmpType } from '../../codec/types/amp-type.js';
import { AmpListType } from '../../codec/types/amp-list.js';
import * as amp from '../../codec/types/index.js';
import { ListOfType } from '../../codec/types/list-of.js';

export class CallArgumentError extends AmpStateError {
  override readonly code = 'CALL_ERR_ARGUMENT';
}

export class CallSchemaError extends AmpStateError {
  override readonly code = 'CALL_ERR_SCHEMA';
}

type AnyType = AmpType<unknown, unknown>;

interface Slot {
  readonly type: AnyType;
  readonly optional: boolean;
}

export interface CommandSchema {
  readonly arguments: ReadonlyMap<string, Slot>;
  readonly response: ReadonlyMap<string, Slot>;
}

export const SCHEMA_HELP = `
Typed values: key=text sends UTF-8 text; key:TYPE=value encodes value as TYPE, one of
  hex (raw bytes), int, float, bool (true/false), decimal, datetime (ISO 8601 or Twisted's
  32-character form), json (a JSON array: ListOf; an array of objects: AmpList).

Schema file (--schema FILE): a JSON object, command name -> declared types, e.g.
  { "Sum": { "arguments": { "values": "ListOf(Integer)", "label": "Unicode?" },
             "response": { "total": "Integer" } } }
Types: Integer, Float, Boolean, Decimal, DateTime, String (bytes), Unicode, Path,
ListOf(TYPE) or {"ListOf": TYPE}, and {"AmpList": {name: TYPE, ...}}; a trailing "?"
(or "optional": true in the object forms) makes an argument optional.
With a schema, key=value is parsed as the declared type (ListOf: comma-separated, or JSON),
missing, unknown or malformed arguments are refused before connecting (exit 2), and the
answer is decoded with the declared response types.`;

const NAMED: Readonly<Record<string, AnyType>> = {
  Integer: amp.Integer,
  String: amp.String,
  Bytes: amp.Bytes,
  Unicode: amp.Unicode,
  Boolean: amp.Boolean,
  Float: amp.Float,
  Decimal: amp.Decimal,
  DateTime: amp.DateTime,
  Path: amp.Path,
} as Record<string, AnyType>;

function parseType(spec: unknown, where: string): Slot {
  if (typeof spec === 'string') {
    const optional = spec.endsWith('?');
    const name = (optional ? spec.slice(0, -1) : spec).trim();
    const listOf = /^ListOf\((.*)\)$/.exec(name);
    if (listOf !== null) return { type: amp.ListOf(parseType(listOf[1], where).type) as AnyType, optional };
    const type = NAMED[name];
    if (type === undefined) throw new CallSchemaError(`${where}: unknown type ${JSON.stringify(spec)} (known: ${Object.keys(NAMED).join(', ')}, ListOf(T), {"AmpList": {…}})`);
    return { type, optional };
  }
  if (typeof spec === 'object' && spec !== null && 'ListOf' in spec) {
    return { type: amp.ListOf(parseType((spec as { ListOf: unknown }).ListOf, where).type) as AnyType, optional: (spec as { optional?: unknown }).optional === true };
  }
  if (typeof spec === 'object' && spec !== null && 'AmpList' in spec) {
    let rows = (spec as { AmpList: unknown }).AmpList;
    // The test oracle's form: [[name, type, optional?], …].
    if (Array.isArray(rows)) rows = Object.fromEntries(rows.map((row) => (Array.isArray(row) ? [row[0], row[2] === true && typeof row[1] === 'string' ? `${row[1]}?` : row[1]] : [])));
    const fields = parseFields(rows, `${where} AmpList`);
    const schema = Object.fromEntries([...fields].map(([name, slot]) => [name, slot.optional ? slot.type.optional() : slot.type]));
    return { type: amp.AmpList(schema) as AnyType, optional: (spec as { optional?: unknown }).optional === true };
  }
  throw new CallSchemaError(`${where}: a type is a name such as "Integer" or {"AmpList": {…}}, not ${JSON.stringify(spec)}`);
}

function parseFields(spec: unknown, where: string): Map<string, Slot> {
  if (spec === undefined) return new Map();
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new CallSchemaError(`${where}: expected an object of name -> type`);
  return new Map(Object.entries(spec).map(([name, type]) => [name, parseType(type, `${where}.${name}`)]));
}

/** The schema of `command` from a schema file; refuses a file that does not declare it. */
export function loadCommandSchema(path: string, command: string): CommandSchema {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CallSchemaError(`cannot read the schema ${path}: ${(error as Error).message}`, { cause: error });
  }
  const entry = (parsed as Record<string, unknown> | null)?.[command];
  if (typeof entry !== 'object' || entry === null) throw new CallSchemaError(`${path} does not declare the command ${JSON.stringify(command)}`);
  const { arguments: args, response } = entry as { arguments?: unknown; response?: unknown };
  return { arguments: parseFields(args, `${command}.arguments`), response: parseFields(response, `${command}.response`) };
}

/** A JSON value as the AMP type it suggests, for `key:json=` without a schema. */
function inferType(value: unknown, where: string): AnyType {
  if (Array.isArray(value)) {
    const first: unknown = value[0];
    if (first === undefined) return amp.ListOf(amp.Unicode) as AnyType;
    // Rows of objects are an AmpList; its columns are typed from the first row.
    if (typeof first === 'object' && first !== null && !Array.isArray(first)) {
      return amp.AmpList(Object.fromEntries(Object.entries(first).map(([key, each]) => [key, inferType(each, `${where}.${key}`)]))) as AnyType;
    }
    return amp.ListOf(inferType(first, where)) as AnyType;
  }
  if (typeof value === 'number') return (Number.isInteger(value) ? amp.Integer : amp.Float) as AnyType;
  if (typeof value === 'boolean') return amp.Boolean as AnyType;
  if (typeof value === 'string') return amp.Unicode as AnyType;
  throw new CallArgumentError(`${where}: cannot send ${JSON.stringify(value)}`);
}

/** A value from the command line or JSON, converted to what `type.encode` takes. */
function toValue(type: AnyType, raw: unknown, where: string): unknown {
  const text = typeof raw === 'string' ? raw : undefined;
  const fail = (why: string): never => {
    throw new CallArgumentError(`${where}: ${why}`);
  };
  if (type.name === 'Integer') {
    if (typeof raw === 'number' && Number.isInteger(raw)) return BigInt(raw);
    if (text !== undefined && /^[+-]?\d+$/.test(text.trim())) return BigInt(text.trim());
    return fail(`${JSON.stringify(raw)} is not an integer`);
  }
  switch (type.name) {
    case 'Float': {
      const number = typeof raw === 'number' ? raw : text !== undefined && text.trim() !== '' ? Number(text) : NaN;
      if (Number.isNaN(number) && !/^[+-]?nan$/i.test(text ?? '')) return fail(`${JSON.stringify(raw)} is not a number`);
      return number;
    }
    case 'Boolean':
      if (raw === true || raw === 'true' || raw === 'True') return true;
      if (raw === false || raw === 'false' || raw === 'False') return false;
      return fail(`${JSON.stringify(raw)} is not true or false`);
    case 'Decimal':
      try {
        return amp.DecimalValue.from(typeof raw === 'number' ? raw : String(raw));
      } catch {
        return fail(`${JSON.stringify(raw)} is not a decimal`);
      }
    case 'DateTime': {
      const value = String(raw);
      if (value.length === 32) return amp.DateTime.decode(Buffer.from(value, 'latin1'));
      const date = new Date(value);
      if (Number.isNaN(date.getTime())) return fail(`${JSON.stringify(raw)} is not a date and time`);
      return amp.DateTimeValue.fromDate(date);
    }
    case 'String':
      return Buffer.from(String(raw), 'utf8');
    case 'Unicode':
    case 'Path':
      if (typeof raw !== 'string') return fail(`${JSON.stringify(raw)} is not text`);
      return raw;
  }
  if (type instanceof ListOfType) {
    const element = type.element as AnyType;
    const items = Array.isArray(raw) ? raw : text !== undefined ? parseList(text, where) : fail('expected a list');
    return (items as unknown[]).map((item, index) => toValue(element, item, `${where}[${index}]`));
  }
  if (type instanceof AmpListType) {
    const fields: Readonly<Record<string, amp.ArgumentSpec>> = type.schema;
    const rows = Array.isArray(raw) ? raw : text !== undefined ? parseJson(text, where) : fail('expected a list of objects');
    if (!Array.isArray(rows)) return fail('expected a JSON array of objects');
    return rows.map((row: unknown, index) => {
      if (typeof row !== 'object' || row === null) return fail(`[${index}] is not an object`);
      return Object.fromEntries(
        Object.entries(row).map(([key, value]) => {
          const spec = fields[key];
          if (spec === undefined) return fail(`[${index}].${key} is not a declared field`);
          return [key, toValue('isOptional' in spec ? spec.type : spec, value, `${where}[${index}].${key}`)];
        }),
      );
    });
  }
  return raw;
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CallArgumentError(`${where}: ${JSON.stringify(text)} is not valid JSON`);
  }
}

/** `1,2,3` or `[1,2,3]`; an empty text is the empty list. */
function parseList(text: string, where: string): unknown[] {
  if (text.trim().startsWith('[')) {
    const parsed = parseJson(text, where);
    if (!Array.isArray(parsed)) throw new CallArgumentError(`${where}: expected a JSON array`);
    return parsed;
  }
  return text === '' ? [] : text.split(',');
}

const FIELD_TYPES: Readonly<Record<string, AnyType | undefined>> = {
  int: amp.Integer,
  float: amp.Float,
  bool: amp.Boolean,
  decimal: amp.Decimal,
  datetime: amp.DateTime,
} as Record<string, AnyType>;

function encodeWith(type: AnyType, raw: unknown, where: string): string | Uint8Array {
  const value = toValue(type, raw, where);
  try {
    return type.encode(value);
  } catch (error) {
    throw new CallArgumentError(`${where}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The box to send from `key=value` / `key:TYPE=value` fields; with a schema, every value is
 * encoded as declared and the fields must match the declared arguments.
 */
export function encodeFields(fields: readonly string[], schema?: CommandSchema): Record<string, string | Uint8Array> {
  const box: Record<string, string | Uint8Array> = {};
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq <= 0) throw new CallArgumentError(`field ${JSON.stringify(field)} is not key=value`);
    const value = field.slice(eq + 1);
    const [key = '', typeName] = field.slice(0, eq).split(/:(?=[a-z]+$)/);
    const declared = schema?.arguments.get(key);
    if (schema !== undefined && declared === undefined) {
      throw new CallArgumentError(`${JSON.stringify(key)} is not an argument of this command (declared: ${[...schema.arguments.keys()].join(', ') || 'none'})`);
    }
    if (typeName === 'hex') {
      if (!/^(?:[0-9a-fA-F]{2})*$/.test(value)) throw new CallArgumentError(`field ${JSON.stringify(`${key}:hex`)} is not valid hex`);
      box[key] = Buffer.from(value, 'hex');
    } else if (typeName === 'json') {
      const parsed = parseJson(value, key);
      box[key] = encodeWith(declared?.type ?? inferType(parsed, key), parsed, key);
    } else if (typeName !== undefined) {
      const type = FIELD_TYPES[typeName];
      if (type === undefined) throw new CallArgumentError(`field ${JSON.stringify(field.slice(0, eq))}: unknown type ${typeName} (hex, int, float, bool, decimal, datetime, json)`);
      box[key] = encodeWith(type, value, key);
    } else box[key] = declared === undefined ? value : encodeWith(declared.type, value, key);
  }
  if (schema !== undefined) {
    const missing = [...schema.arguments].filter(([name, slot]) => !slot.optional && !(name in box)).map(([name]) => name);
    if (missing.length > 0) throw new CallArgumentError(`missing argument${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  }
  return box;
}

/** A decoded value as JSON: bigints as numbers when exact, bytes as text or {"hex": …}. */
function printable(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Buffer.isBuffer(value)) return isUtf8(value) ? value.toString('utf8') : { hex: value.toString('hex') };
  if (Array.isArray(value)) return value.map(printable);
  if (value instanceof amp.DecimalValue || value instanceof amp.DateTimeValue) return value.toString();
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, each]) => [key, printable(each)]));
  return value;
}

/** The answer as one JSON-ready object: declared keys decoded, the others as text or hex. */
export function printableAnswer(answer: ReadonlyMap<string, Buffer>, schema?: CommandSchema): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, bytes] of answer) {
    if (key === '_answer') continue;
    const declared = schema?.response.get(key);
    result[key] = printable(declared === undefined ? bytes : declared.type.decode(bytes));
  }
  return result;
}
