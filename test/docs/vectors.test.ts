/**
 * The hex vectors printed in docs/ (amp-protocol.md §8, trial-protocol.md §8), read from the
 * markdown itself and checked both ways against the codec: encoding the documented value gives the
 * documented bytes, and decoding those bytes gives the value back. A change to either the code or
 * the documents that makes them disagree fails here.
 */
import { describe, expect, it } from 'vitest';
import { normalise } from '../codec/equality.js';
import { decodeOne, text } from '../support/decode-one.js';
import {
  ANSWER,
  ASK,
  BoxDecoder,
  COMMAND,
  DateTimeValue,
  DecimalValue,
  ERROR,
  ERROR_CODE,
  ERROR_DESCRIPTION,
  KeyTooLongError,
  Optional,
  amp,
  encodeErrorReply,
  type AmpType,
  type Command,
  type Schema,
  type WireValue,
} from '../../codec/index.js';
import type { ArgumentSpec } from '../../codec/types/index.js';
import { AmpListType } from '../../codec/types/amp-list.js';
import { ListOfType } from '../../codec/types/list-of.js';
import * as trial from '../../codec/protocols/trial-commands.js';
import { Hello, Ping, Types } from '../fixtures/commands.js';
import { boxVectors, readDoc, valueVectors, type BoxVector } from './doc-vectors.js';

type AnyCommand = Command<any, any>;

const ampCommands: Record<string, AnyCommand> = { Hello, Ping, Types };

/** Trial commands by name; AddError & co. exist once per dialect. */
function trialCommand(name: string, dialect: string | undefined): AnyCommand {
  const dialectCommands: Record<string, AnyCommand> | undefined =
    dialect === '22.4' ? trial.inline : dialect === '22.10' ? trial.streamed : undefined;
  const command = dialectCommands?.[name] ?? (trial as unknown as Record<string, AnyCommand>)[name];
  if (command === undefined) throw new Error(`no trial command ${name} (dialect ${dialect ?? 'any'})`);
  return command;
}

const SPECIAL_FLOATS: Record<string, number> = { nan: NaN, inf: Infinity, '-inf': -Infinity };

/** A documented JSON value as the value the schema's type takes. */
function revive(spec: ArgumentSpec, json: unknown): unknown {
  const type: AmpType<unknown, unknown> = spec instanceof Optional ? spec.type : spec;
  if (type instanceof ListOfType) return (json as unknown[]).map((element) => revive(type.element, element));
  if (type instanceof AmpListType) return (json as Record<string, unknown>[]).map((record) => reviveFields(type.schema, record));
  if (type === amp.Integer) return BigInt(json as number | string);
  if (type === amp.IntegerNumber) return Number(json);
  if (type === amp.String) return Buffer.from(json as string, 'utf8');
  if (type === amp.Float) return typeof json === 'string' ? SPECIAL_FLOATS[json] : json;
  if (type === amp.Decimal) return DecimalValue.parse(json as string);
  if (type === amp.DateTime) return new DateTimeValue(json as ConstructorParameters<typeof DateTimeValue>[0]);
  return json;
}

function reviveFields(schema: Schema, json: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(json).map(([name, value]) => {
      const spec = schema[name];
      if (spec === undefined) throw new Error(`the documented field ${name} is not in the schema`);
      return [name, revive(spec, value)];
    }),
  );
}




function checkBoxVector(vector: BoxVector, command: AnyCommand | undefined): void {
  const bytes = Buffer.from(vector.hex, 'hex');
  expect(bytes.toString('hex'), 'the hex is not well-formed').toBe(vector.hex);
  const fields = JSON.parse(vector.fields ?? '{}') as Record<string, unknown>;
  switch (vector.kind) {
    case 'request': {
      const args = reviveFields(command!.arguments.schema, fields);
      expect(command!.encodeRequest(vector.tag, args).toString('hex')).toBe(vector.hex);
      const box = decodeOne(bytes);
      expect(text(box, COMMAND)).toBe(command!.name);
      expect(text(box, ASK)).toBe(vector.tag);
      expect(normalise(command!.decodeArguments(box))).toEqual(normalise(args));
      return;
    }
    case 'answer': {
      const response = reviveFields(command!.response.schema, fields);
      expect(command!.encodeAnswer(vector.tag!, response).toString('hex')).toBe(vector.hex);
      const box = decodeOne(bytes);
      expect(text(box, ANSWER)).toBe(vector.tag);
      expect(normalise(command!.decodeResponse(box))).toEqual(normalise(response));
      return;
    }
    case 'error': {
      expect(encodeErrorReply(vector.tag!, vector.code!, vector.description!).toString('hex')).toBe(vector.hex);
      const box = decodeOne(bytes);
      expect([text(box, ERROR), text(box, ERROR_CODE), text(box, ERROR_DESCRIPTION)]).toEqual([vector.tag, vector.code, vector.description]);
      return;
    }
    case 'key-too-long': {
      const errors: Error[] = [];
      const decoder = new BoxDecoder({ onBox: () => { throw new Error('no box expected'); }, onError: (error) => errors.push(error) });
      decoder.push(bytes);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(KeyTooLongError);
      return;
    }
    default:
      throw new Error(`vector ${vector.id}: unknown kind ${vector.kind}`);
  }
}

/** The ids must run A1, A2, … without a gap, so a vector cannot vanish from a document unnoticed. */
function expectNumbered(vectors: readonly BoxVector[], prefix: string, count: number): void {
  const ids = vectors.map((vector) => vector.id).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  expect(ids).toEqual(Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`));
}

describe('docs/amp-protocol.md §8', () => {
  const markdown = readDoc('amp-protocol.md');
  const vectors = boxVectors(markdown);

  it('documents A1 to A16', () => expectNumbered(vectors, 'A', 16));

  for (const vector of vectors) {
    it(`${vector.id}: ${vector.meaning ?? ''}`, () => {
      checkBoxVector(vector, vector.command === undefined ? undefined : ampCommands[vector.command]);
    });
  }

  const values = valueVectors(markdown);
  it('documents single values of every scalar type', () => {
    expect(new Set(values.map((vector) => vector.type))).toEqual(new Set(['Float', 'Decimal', 'Integer', 'Boolean', 'DateTime', 'Unicode']));
  });

  for (const { type, value, wire } of values) {
    it(`${type} ${value} => ${wire}`, () => {
      const bytes = wire.startsWith('hex:') ? Buffer.from(wire.slice(4), 'hex') : Buffer.from(wire, 'utf8');
      const ampType = (amp as unknown as Record<string, AmpType<unknown, unknown>>)[type]!;
      const expected = singleValue(type, value);
      expect(asBytes(ampType.encode(expected)).toString('hex')).toBe(bytes.toString('hex'));
      const decoded = ampType.decode(bytes);
      if (type === 'Float') expect(Object.is(decoded, expected)).toBe(true);
      else expect(normalise(decoded)).toEqual(normalise(expected));
    });
  }
});

describe('docs/trial-protocol.md §8', () => {
  const vectors = boxVectors(readDoc('trial-protocol.md'));

  it('documents T1 to T17', () => expectNumbered(vectors, 'T', 17));

  for (const vector of vectors) {
    it(`${vector.id}: ${vector.meaning ?? ''}`, () => {
      checkBoxVector(vector, trialCommand(vector.command!, vector.dialect));
    });
  }
});

/** A single value as written in a `value-vectors` block: Python's spelling, or DateTime fields. */
function singleValue(type: string, value: string): unknown {
  switch (type) {
    case 'Float':
      return SPECIAL_FLOATS[value] ?? Number(value);
    case 'Decimal':
      return DecimalValue.parse(value);
    case 'Integer':
      return BigInt(value);
    case 'Boolean':
      return value === 'True';
    case 'DateTime':
      return new DateTimeValue(JSON.parse(value));
    default:
      return value;
  }
}

function asBytes(wire: WireValue): Buffer {
  return typeof wire === 'string' ? Buffer.from(wire, 'utf8') : Buffer.from(wire);
}
