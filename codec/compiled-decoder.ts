import type { DecodedBox } from './decoded-box.js';
import { AmpStateError } from './errors.js';
import type { RangeDecoder } from './types/amp-type.js';

/** What the generated code needs to know of one schema field. */
export interface DecoderField {
  readonly name: string;
  readonly optional: boolean;
  readonly type: { decode(bytes: Buffer): unknown };
  /** The type itself when it decodes a value in place. */
  readonly inPlace: RangeDecoder<unknown> | undefined;
  /** A ByteStream or Descriptor: its value is resolved by the receiving connection, through `decodeValue`. */
  readonly streamed: boolean;
  readonly descriptor: boolean;
}

/** Decodes the field at `index` from its value's bytes: the ByteStream and Descriptor fields. */
export type FieldValueDecoder = (index: number, bytes: Buffer) => unknown;

export interface CompiledDecoderHelpers {
  /** The error for a required field the box lacks. */
  readonly missing: (index: number) => Error;
  /** The error for a field whose bytes its type refused. */
  readonly invalid: (index: number, cause: unknown) => Error;
}

export type BoxFieldsDecoder = (box: DecodedBox, decodeValue: FieldValueDecoder) => Record<string, unknown>;

/**
 * A schema's decoder for the decoder's own boxes, made once per schema as code of its own. A
 * loop over the fields reads every value through one property store that sees every schema's
 * object shape, and V8 makes such a store megamorphic: it cost half of decoding a small box. Code
 * per schema builds its result as an object literal of the fields in declaration order, so each
 * schema's results share one shape and each read or store stays monomorphic.
 *
 * Field names only ever appear in the code as JSON string literals, and `__proto__` is refused
 * here as a schema refuses it: in a literal or a store it would set the result's prototype. Returns undefined where the runtime does not allow code from strings (Node's
 * `--disallow-code-generation-from-strings`): the caller then keeps its loop.
 */
export function compileBoxFieldsDecoder(fields: readonly DecoderField[], helpers: CompiledDecoderHelpers): BoxFieldsDecoder | undefined {
  if (fields.some((field) => field.name === '__proto__')) throw new AmpStateError("a field named '__proto__' cannot be decoded");
  const lines: string[] = ['let at;'];
  fields.forEach((field, i) => {
    const key = JSON.stringify(field.name);
    lines.push(`let v${i};`, `at = box.position(${key});`);
    const read =
      field.streamed || field.descriptor
        ? `decodeValue(${i}, box.get(${key}))`
        : field.inPlace === undefined
          ? `types[${i}].decode(box.get(${key}))`
          : `box.decodeAt(at, types[${i}])`;
    const decode = `try { v${i} = ${read}; } catch (error) { throw helpers.invalid(${i}, error); }`;
    if (field.optional) lines.push(`const has${i} = at >= 0;`, `if (has${i}) { ${decode} }`);
    else lines.push(`if (at < 0) throw helpers.missing(${i});`, decode);
  });
  // The leading required fields make the literal; each field after the first optional one is added in turn.
  const firstOptional = fields.findIndex((field) => field.optional);
  const leading = firstOptional < 0 ? fields.length : firstOptional;
  lines.push(`const out = { ${fields.slice(0, leading).map((field, i) => `${JSON.stringify(field.name)}: v${i}`).join(', ')} };`);
  for (let i = leading; i < fields.length; i++) {
    const store = `out[${JSON.stringify(fields[i]!.name)}] = v${i};`;
    lines.push(fields[i]!.optional ? `if (has${i}) ${store}` : store);
  }
  lines.push('return out;');
  const source = `'use strict';\nreturn function decodeBoxFields(box, decodeValue) {\n  ${lines.join('\n  ')}\n};`;
  try {
    const make = new Function('types', 'helpers', source) as (types: readonly unknown[], helpers: CompiledDecoderHelpers) => BoxFieldsDecoder;
    return make(
      fields.map((field) => field.inPlace ?? field.type),
      helpers,
    );
  } catch (error) {
    if (error instanceof EvalError) return undefined;
    throw error;
  }
}
