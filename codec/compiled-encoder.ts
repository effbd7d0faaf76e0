import type { FrameSink, PairValue, valueBound, writeValue } from './encode-box.js';

/** What the generated code needs to know of one schema field. */
export interface EncoderField {
  readonly name: string;
  readonly optional: boolean;
  readonly type: { encode(value: never): PairValue };
}

export interface CompiledEncoderHelpers {
  /** Writes the box from its values in sorted key order (codec/encode-box.ts): where there is no sink, or a value is referenced. */
  readonly encodePairs: (values: readonly (PairValue | undefined)[], zeroCopyAbove: number, sink: FrameSink | undefined) => Buffer | Buffer[] | undefined;
  /** Throws for a given key the schema does not declare; checked before any other argument error. */
  readonly refuseUnknown: (given: Record<string, unknown>) => void;
  /** The error for a required field that was not given. */
  readonly missing: (index: number) => Error;
  /** The error for a field its type refused to encode. */
  readonly invalid: (index: number, cause: unknown) => Error;
  readonly valueBound: typeof valueBound;
  readonly writeValue: typeof writeValue;
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
 * megamorphic property load, where code per schema reads each with a load of its own. Into a
 * connection's sink, it writes each key and its prefix as constant stores: a loop copying the
 * characters of the key cost five times as much (a fifth of encoding a small box).
 *
 * `layout` gives, for each key in sorted order, the index of its field, or -(1 + i) for the reserved
 * value `reserved[i]` (`_ask`, `_command`, `_answer`). Values are encoded in that order, so the first
 * error is the same as the loop's. Field names appear in the code only as JSON string literals.
 * Returns undefined where the runtime does not allow code from strings.
 */
export function compileFieldsEncoder(
  fields: readonly EncoderField[],
  sortedKeys: readonly string[],
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
  // The size of each pair, its limit checked, in sorted key order.
  lines.push('let bound = 2, referenced = 0, size;');
  wireValues.forEach((value, position) => {
    const key = sortedKeys[position]!;
    lines.push(
      `const v${position} = ${value};`,
      `if (v${position} !== undefined) { size = valueBound(${JSON.stringify(key)}, v${position}); bound += ${4 + key.length} + size; if (typeof v${position} === 'object' && size > zeroCopyAbove) referenced += size; }`,
    );
  });
  // Without a sink, or with a value to reference rather than copy: the general encoder, from the
  // scratch array (reused across calls: encoding is synchronous, and a nested AmpList has a schema of its own).
  lines.push(
    'if (sink === undefined || referenced > 0) {',
    ...wireValues.map((_, position) => `  wire[${position}] = v${position};`),
    '  try {',
    '    return helpers.encodePairs(wire, zeroCopyAbove, sink);',
    '  } finally {',
    ...wireValues.map((_, position) => `    wire[${position}] = undefined;`),
    '  }',
    '}',
    'const out = sink.room(bound);',
    'let o = sink.sinkOffset;',
  );
  wireValues.forEach((_, position) => {
    const key = sortedKeys[position]!;
    const stores = [`out[o] = 0;`, `out[o + 1] = ${key.length};`];
    for (let j = 0; j < key.length; j++) stores.push(`out[o + ${j + 2}] = ${key.charCodeAt(j)};`);
    lines.push(`if (v${position} !== undefined) { ${stores.join(' ')} o = writeValue(out, o + ${2 + key.length}, v${position}); }`);
  });
  lines.push('out[o] = 0;', 'out[o + 1] = 0;', 'sink.commit(o + 2);', 'return undefined;');
  const source = `'use strict';\nconst { valueBound, writeValue } = helpers;\nreturn function encodeFields(given, reserved, zeroCopyAbove, sink) {\n  ${lines.join('\n  ')}\n};`;
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
