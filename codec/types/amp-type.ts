import type { WireValue } from '../box.js';

/**
 * An AMP argument type: how one value travels in one box value (docs/amp-protocol.md §3). `In` is what senders may
 * pass, `Out` what receivers get back (Integer takes numbers but always returns bigints).
 */
export abstract class AmpType<Out, In = Out> {
  abstract readonly name: string;
  abstract encode(value: In): WireValue;
  abstract decode(bytes: Buffer): Out;
  /**
   * Optionally, the same as `decode(chunk.subarray(start, end))` without making that view: the
   * built-in scalar types read their bytes in place, which saves an allocation per received value.
   * Used only when it is defined at least as far down the class chain as `decode` (see
   * `rangeDecoderOf`), so a subclass that overrides just `decode` is never bypassed.
   */
  decodeRange?(chunk: Buffer, start: number, end: number): Out;

  /**
   * Whether every value `decode` returns is a copy, referring to no byte it was decoded from: text,
   * numbers, dates. A caller that keeps only such values may let the box go (`DecodedBox.disown`).
   * Believed only when defined at least as far down the class chain as `decode` (see `decodesToCopies`).
   */
  get copiesOnDecode(): boolean {
    return false;
  }

  /** An optional argument: absent means the key is omitted, never a null on the wire. */
  optional(): Optional<Out, In> {
    return new Optional(this);
  }
}

/** A type that can decode a value in place, without a Buffer view of it. */
export interface RangeDecoder<Out> {
  decodeRange(chunk: Buffer, start: number, end: number): Out;
}

/**
 * Whether `member` is defined at least as far down `type`'s class chain as `decode`: only then does
 * it speak for the `decode` that runs, and a subclass that overrides just `decode` is never bypassed.
 */
function definedWithDecode(type: object, member: 'decodeRange' | 'copiesOnDecode'): boolean {
  for (let level: object | null = type; level !== null; level = Object.getPrototypeOf(level) as object | null) {
    if (Object.hasOwn(level, member)) return true;
    if (Object.hasOwn(level, 'decode')) return false;
  }
  return false;
}

/** `type` when its `decodeRange` is the one that matches its `decode`, else undefined. */
export function rangeDecoderOf<Out>(type: AmpType<Out, any>): RangeDecoder<Out> | undefined {
  return typeof type.decodeRange === 'function' && definedWithDecode(type, 'decodeRange') ? (type as RangeDecoder<Out>) : undefined;
}

/** `type.copiesOnDecode`, when it speaks for the `decode` that runs; else false. */
export function decodesToCopies(type: AmpType<unknown, unknown>): boolean {
  return definedWithDecode(type, 'copiesOnDecode') && type.copiesOnDecode;
}

export class Optional<Out, In = Out> {
  readonly isOptional = true;
  constructor(readonly type: AmpType<Out, In>) {}
}

export type ArgumentSpec = AmpType<any, any> | Optional<any, any>;

export interface CustomTypeDefinition<Out, In> {
  readonly name: string;
  encode(value: In): WireValue;
  decode(bytes: Buffer): Out;
}

/** The small interface for custom types: a name and the two conversions. */
export function defineType<Out, In = Out>(definition: CustomTypeDefinition<Out, In>): AmpType<Out, In> {
  return new (class extends AmpType<Out, In> {
    readonly name = definition.name;
    encode(value: In): WireValue {
      return definition.encode(value);
    }
    decode(bytes: Buffer): Out {
      return definition.decode(bytes);
    }
  })();
}
