/**
 * A schema's encoder and decoder are code made for that schema (codec/compiled-encoder.ts,
 * codec/compiled-decoder.ts). Where code from strings is not allowed, the schema keeps its loops:
 * both must give the same bytes, the same values with their keys in declaration order, and the same
 * first error.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CompiledSchema } from '../../codec/schema.js';
import { amp, encodeBox, parseBoxes, type Schema } from '../../codec/index.js';
import { encodeSortedPairs, type FrameSink } from '../../codec/encode-box.js';
import { bigIntegers, byteStrings, texts } from './arbitraries.js';
import { Hello } from '../fixtures/commands.js';

/** As Node's `--disallow-code-generation-from-strings` makes it. */
class NoCodeFromStrings {
  constructor() {
    throw new EvalError('Code generation from strings disallowed for this context');
  }
}

function withoutCodeGeneration<T>(make: () => T): T {
  vi.stubGlobal('Function', NoCodeFromStrings);
  try {
    return make();
  } finally {
    vi.unstubAllGlobals();
  }
}

/** The same schema twice: compiled, and with the loops. */
function both<S extends Schema>(schema: S, reserved: readonly string[] = []): [CompiledSchema<S>, CompiledSchema<S>] {
  const compiled = new CompiledSchema('Probe', schema, reserved);
  const looped = withoutCodeGeneration(() => new CompiledSchema('Probe', schema, reserved));
  expect((compiled as unknown as { decodeFields: unknown }).decodeFields).toBeTypeOf('function');
  expect((looped as unknown as { decodeFields: unknown }).decodeFields).toBeUndefined();
  expect((looped as unknown as { encodeFields: unknown }).encodeFields).toBeUndefined();
  return [compiled, looped];
}

function outcome(run: () => unknown): { value?: unknown; error?: string } {
  try {
    return { value: run() };
  } catch (error) {
    return { error: `${(error as Error).constructor.name}: ${(error as Error).message}` };
  }
}

afterEach(() => vi.unstubAllGlobals());

/**
 * The bytes `schema` writes for `given` into a sink that starts part-way into its buffer, or the
 * parts it returns instead, and which it was.
 */
function written(schema: CompiledSchema<Schema>, given: unknown, tag: number, zeroCopyAbove: number): { bytes: Buffer; inSink: boolean } {
  const buffer = Buffer.alloc(1 << 20, 0xee);
  let end = 7;
  const sink: FrameSink = {
    room: () => buffer,
    get sinkOffset() {
      return end;
    },
    commit: (at) => {
      end = at;
    },
  };
  const frame = schema.encodeParts(given as never, [tag], zeroCopyAbove, sink);
  if (frame === undefined) return { bytes: Buffer.from(buffer.subarray(7, end)), inSink: true };
  expect(end).toBe(7);
  return { bytes: Buffer.concat(Array.isArray(frame) ? frame : [frame]), inSink: false };
}

// Names that must survive being written into code: quotes, backslashes, line ends, Object's own names.
const schema = {
  count: amp.Integer,
  'say "hi"\\\n': amp.Unicode.optional(),
  constructor: amp.String,
  "it's": amp.Boolean.optional(),
  toString: amp.ListOf(amp.Integer),
  x: amp.Unicode.optional(),
} satisfies Schema;

const values = fc.record(
  {
    count: fc.oneof(bigIntegers.filter((n) => n.toString().length < 50), fc.constant(null), fc.constant('not a number')),
    'say "hi"\\\n': fc.oneof(texts, fc.constant(null)),
    constructor: byteStrings,
    "it's": fc.boolean(),
    toString: fc.array(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), { maxLength: 4 }),
    x: texts,
    extra: fc.constantFrom('a', undefined),
  },
  { requiredKeys: [] },
);

describe('compiled schema code', () => {
  it('encodes the same bytes and fails with the same first error as the loop', () => {
    const [compiled, looped] = both(schema, ['_ask']);
    fc.assert(
      fc.property(values, fc.nat(), (given, tag) => {
        const a = outcome(() => compiled.encode(given as never, [tag]));
        const b = outcome(() => looped.encode(given as never, [tag]));
        expect(a).toEqual(b);
      }),
      { numRuns: 400 },
    );
  });

  it("writes the same bytes into a connection's sink, or as parts when a value is referenced", () => {
    const [compiled, looped] = both(schema, ['_ask']);
    fc.assert(
      fc.property(values, fc.oneof(fc.nat(), fc.maxSafeNat()), fc.constantFrom(16, 8192), (given, tag, zeroCopyAbove) => {
        const a = outcome(() => written(compiled, given, tag, zeroCopyAbove));
        const b = outcome(() => written(looped, given, tag, zeroCopyAbove));
        expect(a).toEqual(b);
        if (a.value !== undefined) expect((a.value as { bytes: Buffer }).bytes).toEqual(compiled.encode(given as never, [tag]));
      }),
      { numRuns: 400 },
    );
  });

  it('decodes the same values, keys in declaration order, and fails like the loop', () => {
    const [compiled, looped] = both(schema);
    const boxes = fc.dictionary(fc.constantFrom(...Object.keys(schema), 'other'), fc.oneof(byteStrings, fc.constantFrom('1', '-7', 'True', 'x')), {
      maxKeys: 7,
    });
    fc.assert(
      fc.property(boxes, (fields) => {
        const [box] = parseBoxes(encodeBox(fields));
        const a = outcome(() => compiled.decode(box!));
        const b = outcome(() => looped.decode(box!));
        expect(a).toEqual(b);
        if (a.value !== undefined) expect(Object.keys(a.value as object)).toEqual(Object.keys(b.value as object));
      }),
      { numRuns: 400 },
    );
  });

  it('keeps declaration order around an optional field, present or absent', () => {
    const compiled = new CompiledSchema('Order', { a: amp.Integer, b: amp.Unicode.optional(), c: amp.Integer });
    const decode = (fields: Record<string, string>) => compiled.decode(parseBoxes(encodeBox(fields))[0]!);
    expect(Object.keys(decode({ c: '3', b: 'two', a: '1' }))).toEqual(['a', 'b', 'c']);
    expect(Object.keys(decode({ c: '3', a: '1' }))).toEqual(['a', 'c']);
    expect(decode({ c: '3', a: '1', b: 'é' })).toEqual({ a: 1n, b: 'é', c: 3n });
  });

  it('names the first missing field, and an undeclared key before it', () => {
    const compiled = new CompiledSchema('Order', { a: amp.Integer, b: amp.Integer });
    expect(outcome(() => compiled.encode({ b: 2 } as never)).error).toBe("MissingArgumentError: Order: required argument 'a' is missing");
    expect(outcome(() => compiled.encode({ b: 2, z: 1 } as never)).error).toMatch(/^UnknownArgumentError: .*'z'/);
    expect(outcome(() => compiled.decode(parseBoxes(encodeBox({ b: '2' }))[0]!)).error).toBe("MissingArgumentError: Order: required argument 'a' is missing");
  });
});

/** Every UTF-16 unit, lone surrogates included: Buffer.from writes those as U+FFFD, and so must the encoder. */
const anyUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)), maxLength: 200 });

describe('values written in one pass', () => {
  it('writes a tag as the hex digits toString(16) gives, on both sides of 2^31', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constantFrom(0x7fffffff, 0x80000000, 0xffffffff, 2 ** 32, 2 ** 53 - 1)), (tag) => {
        expect(encodeSortedPairs(['_ask'], [tag])).toEqual(encodeBox({ _ask: tag.toString(16) }));
      }),
      { numRuns: 500 },
    );
  });

  it('is the bytes Buffer.from writes, below, at and above the short-text length', () => {
    fc.assert(
      fc.property(fc.oneof(anyUnits, texts, fc.string({ minLength: 60, maxLength: 70 })), (text) => {
        expect(encodeBox({ k: text }).equals(encodeBox({ k: Buffer.from(text, 'utf8') }))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('gives a whole box its exact length, with text between other pairs', () => {
    fc.assert(
      fc.property(anyUnits, anyUnits, byteStrings, (first, second, bytes) => {
        const encoded = encodeBox({ a: first, b: bytes, c: second });
        expect(encoded.equals(encodeBox({ a: Buffer.from(first), b: bytes, c: Buffer.from(second) }))).toBe(true);
        expect(encoded.length).toBe(2 + 3 * 3 + 6 + Buffer.byteLength(first) + bytes.length + Buffer.byteLength(second));
      }),
      { numRuns: 300 },
    );
  });
});

describe('code from names', () => {
  it("refuses a field named '__proto__', which would set the decoded object's prototype", async () => {
    const { compileBoxFieldsDecoder } = await import('../../codec/compiled-decoder.js');
    const field = { name: '__proto__', optional: false, type: amp.Unicode, inPlace: undefined, streamed: false, descriptor: false };
    const helpers = { missing: () => new Error('missing'), invalid: () => new Error('invalid') };
    expect(() => compileBoxFieldsDecoder([field], helpers)).toThrow(/__proto__/);
    expect(() => new CompiledSchema('Probe', { ['__proto__']: amp.Unicode } as Schema)).toThrow(/__proto__/);
  });
});

describe('a runtime that refuses code from strings', () => {
  it('still encodes and decodes, with the loops (node --disallow-code-generation-from-strings)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { join } = await import('node:path');
    const { REPO, requireBuilt } = await import('../integration/harness.js');
    requireBuilt();
    const script = `
      const { Hello } = await import(${JSON.stringify(join(REPO, 'dist', 'test', 'fixtures', 'commands.js'))});
      const { parseBoxes } = await import(${JSON.stringify(join(REPO, 'dist', 'codec', 'box-decoder.js'))});
      let compiled = true;
      try { new Function('return 1'); } catch { compiled = false; }
      const bytes = Hello.encodeRequest('a1', { count: 12345n, name: Buffer.from('bench') });
      const args = Hello.decodeArguments(parseBoxes(bytes)[0]);
      process.stdout.write(JSON.stringify({ compiled, hex: bytes.toString('hex'), count: String(args.count), name: args.name.toString() }));`;
    const output = execFileSync(process.execPath, ['--disallow-code-generation-from-strings', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const bytes = Hello.encodeRequest('a1', { count: 12345n, name: Buffer.from('bench') });
    expect(JSON.parse(output)).toEqual({ compiled: false, hex: bytes.toString('hex'), count: '12345', name: 'bench' });
  });
});
