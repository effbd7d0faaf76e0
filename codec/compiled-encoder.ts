import type { FrameSink, PairValue } from './encode-box.js';

/** What the generated code needs to know of one schema field. */
export interface EncoderField {
  readonly name: string;
  readonly optional: boolean;
  readonly type: { encode(value: never): PairValue };
}

export interface CompiledEncoderHelpers {
  /** Writes the box from its values in sorted key order (codec/encode-box.ts). */
  readonly encodePairs: (values: readonly (PairValue | undefined)[], zeroCopyAbove: number, sink: FrameSink | undefined) => Buffer | Buffer[] | undefined;
  /** Throws for a given key the schema does not declare; checked before any other argument error. */
  readonly refuseUnknown: (given: Record<string, unknown>) => void;
  /** The error for a required field that was not given. */
  readonly missing: (index: number) => Error;
  /** The error for a field its type refused to encode. */
  readonly invalid: (index: number, cause: unknown) => Error;
}

export type FieldsEncoder = (
  given: Record<string, unknown>,
  reserved: readonly (PairValue | undefined)[],
  zeroCopyAbove: number,
  sink: FrameSink | undefined,
) => Buffer | Buffer[] | undefined;

/**
 * A schema's encoder, made once per schema as code of its own, for the reason
 * codec/compiled-decoder.ts gives: a loop over the fields reads the caller's values through one
 * megamorphic property load, where code per schema reads each with a load of its own.
 *
 * `layout` gives, for each key in sorted order, the index of its field, or -(1 + i) for the reserved
 * value `reserved[i]` (`_ask`, `_command`, `_answer`). Values are encoded in that order, so the first
 * error is the same as the loop's. Field names appear in the code only as JSON string literals.
 * Returns undefined where the runtime does not allow code from strings.
 */
export function compileFieldsEncoder(
  fields: readonly EncoderField[],
  layout: readonly number[],
  helpers: CompiledEncoderHelpers,
): FieldsEncoder | undefined {
  const lines: string[] = [
    // Counting the given keys costs no lookup per key; they are looked up only when some are not declared.
    'let givenCount = 0;',
    'for (const key in given) if (given[key] !== undefined) givenCount++;',
    'let declaredCount = 0;',
  ];
  const wireValues: string[] = [];
  for (const index of layout) {
    if (index < 0) {
      wireValues.push(`reserved[${-index - 1}]`);
      continue;
    }
    const field = fields[index]!;
    lines.push(`const g${index} = given[${JSON.stringify(field.name)}];`, `if (g${index} !== undefined) declaredCount++;`, `let w${index};`);
    const absent = field.optional
      ? ''
      : ` helpers.refuseUnknown(given); throw helpers.missing(${index}); `;
    lines.push(
      `if (g${index} === undefined || g${index} === null) {${absent}}`,
      `else try { w${index} = types[${index}].encode(g${index}); } catch (error) { helpers.refuseUnknown(given); throw helpers.invalid(${index}, error); }`,
    );
    wireValues.push(`w${index}`);
  }
  lines.push('if (declaredCount !== givenCount) helpers.refuseUnknown(given);');
  // Reused across calls: encoding is synchronous, and a nested AmpList has a schema of its own.
  wireValues.forEach((value, position) => lines.push(`wire[${position}] = ${value};`));
  lines.push(
    'try {',
    '  return helpers.encodePairs(wire, zeroCopyAbove, sink);',
    '} finally {',
    ...wireValues.map((_, position) => `  wire[${position}] = undefined;`),
    '}',
  );
  const source = `'use strict';\nreturn function encodeFields(given, reserved, zeroCopyAbove, sink) {\n  ${lines.join('\n  ')}\n};`;
  try {
    const make = new Function('types', 'wire', 'helpers', source) as (
      types: readonly EncoderField['type'][],
      wire: (PairValue | undefined)[],
      helpers: CompiledEncoderHelpers,
    ) => FieldsEncoder;
    return make(
      fields.map((field) => field.type),
      new Array<PairValue | undefined>(layout.length).fill(undefined),
      helpers,
    );
  } catch (error) {
    if (error instanceof EvalError) return undefined;
    throw error;
  }
}
