import type { AmpBox } from './box.js';
import { checkKey, compareKeys, encodeSortedPairsParts, valueBound, writeValue, type FrameSink, type PairValue } from './encode-box.js';
import {
  AmpStateError,
  InvalidArgumentError,
  MissingArgumentError,
  UnknownArgumentError,
} from './errors.js';
import { DecodedBox } from './decoded-box.js';
import { compileFieldsEncoder, type FieldsEncoder } from './compiled-encoder.js';
import { compileBoxFieldsDecoder, type BoxFieldsDecoder, type FieldValueDecoder } from './compiled-decoder.js';
import { decodesToCopies, rangeDecoderOf, type AmpType, type ArgumentSpec, type Optional, type RangeDecoder } from './types/amp-type.js';
import { isStreamedType } from './types/byte-stream.js';
import { isDescriptorType, type DescriptorClaimer } from './types/descriptor.js';

/** A command's `arguments` or `response`: wire name → argument type. The key IS the wire name. */
export type Schema = { readonly [wireName: string]: ArgumentSpec };

type OutOf<S> = S extends Optional<infer O, any> ? O : S extends AmpType<infer O, any> ? O : never;
type InOf<S> = S extends Optional<any, infer I> ? I : S extends AmpType<any, infer I> ? I : never;
type RequiredKeys<S> = { [K in keyof S]: S[K] extends Optional<any, any> ? never : K }[keyof S];
type OptionalKeys<S> = { [K in keyof S]: S[K] extends Optional<any, any> ? K : never }[keyof S];
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** What a receiver gets: required keys always present, optional ones possibly absent. */
export type Decoded<S extends Schema> = Simplify<
  { [K in RequiredKeys<S>]: OutOf<S[K]> } & { [K in OptionalKeys<S>]?: OutOf<S[K]> }
>;

/** What a sender passes: absent optional values may be `undefined` or `null`. */
export type Encodable<S extends Schema> = Simplify<
  { [K in RequiredKeys<S>]: InOf<S[K]> } & { [K in OptionalKeys<S>]?: InOf<S[K]> | null | undefined }
>;

interface Slot {
  readonly name: string;
  readonly type: AmpType<unknown, unknown>;
  readonly optional: boolean;
  /** A ByteStream: the box carries a stream id that the connection resolves. */
  readonly streamed: boolean;
  /** A Descriptor: the box carries an ordinal that the connection turns into a file descriptor. */
  readonly descriptor: boolean;
  /** The type itself when it can decode a value in place (and is neither streamed nor a descriptor). */
  readonly inPlace: RangeDecoder<unknown> | undefined;
}

/** Turns a stream id read from a box into the stream the receiving connection holds for it. */
export type StreamResolver = (streamId: number) => unknown;

/**
 * A schema prepared once for the hot path: keys validated and sorted up front (reserved keys such
 * as `_ask` and `_command` included), so encoding a call is one pass over the values and one
 * allocation.
 */
export class CompiledSchema<S extends Schema> {
  /** Every key this schema can write, sorted as Twisted sorts them. */
  readonly sortedKeys: readonly string[];
  private readonly slots: readonly Slot[];
  /** For each sorted key: index into `slots`, or -(1 + reserved index). */
  private readonly layout: readonly number[];
  private readonly declared: ReadonlySet<string>;
  private readonly scratch: (PairValue | undefined)[];
  /** The ByteStream arguments: a call with any of them goes through the connection's stream sender. */
  readonly streamedKeys: readonly string[];
  /** The Descriptor arguments, in declaration order: the order Twisted numbers their ordinals in. */
  readonly descriptorKeys: readonly string[];
  /** The fields of the decoder's own boxes, read by code made for this schema (codec/compiled-decoder.ts). */
  private readonly decodeFields: BoxFieldsDecoder | undefined;
  /** The same as `encodeParts`'s loop, as code made for this schema (codec/compiled-encoder.ts). */
  private readonly encodeFields: FieldsEncoder | undefined;
  /**
   * Whether every value `decode` returns is a copy (see `AmpType.copiesOnDecode`): the box they came
   * from may then be let go as soon as they are decoded.
   */
  readonly decodesToCopies: boolean;
  /** Whether a field is a ByteStream or a Descriptor: only then does decoding need the connection. */
  private readonly needsConnection: boolean;

  constructor(
    readonly owner: string,
    readonly schema: S,
    readonly reservedKeys: readonly string[] = [],
  ) {
    const slots: Slot[] = [];
    for (const [name, spec] of Object.entries(schema)) {
      checkKey(name);
      if (name === '__proto__') throw new AmpStateError(`${owner}: '__proto__' cannot be an argument name`);
      const optional = 'isOptional' in spec;
      const type: AmpType<unknown, unknown> = optional ? spec.type : spec;
      const streamed = isStreamedType(type);
      const descriptor = isDescriptorType(type);
      const inPlace = streamed || descriptor ? undefined : rangeDecoderOf(type);
      slots.push({ name, type, optional, streamed, descriptor, inPlace });
    }
    this.slots = slots;
    this.streamedKeys = slots.filter((slot) => slot.streamed).map((slot) => slot.name);
    this.descriptorKeys = slots.filter((slot) => slot.descriptor).map((slot) => slot.name);
    this.declared = new Set(slots.map((slot) => slot.name));
    const keys = [...slots.map((slot) => slot.name), ...reservedKeys].sort(compareKeys);
    this.sortedKeys = keys;
    this.scratch = new Array<PairValue | undefined>(keys.length).fill(undefined);
    this.layout = keys.map((key) => {
      const reserved = reservedKeys.indexOf(key);
      return reserved >= 0 ? -(1 + reserved) : slots.findIndex((slot) => slot.name === key);
    });
    // The errors the generated code throws, named by field index.
    const fieldErrors = {
      missing: (index: number) => new MissingArgumentError(owner, slots[index]!.name),
      invalid: (index: number, cause: unknown) => new InvalidArgumentError(owner, slots[index]!.name, cause),
    };
    this.encodeFields = compileFieldsEncoder(slots, keys, this.layout, {
      ...fieldErrors,
      valueBound,
      writeValue,
      encodePairs: (wire, zeroCopyAbove, sink) => encodeSortedPairsParts(keys, wire, zeroCopyAbove, sink),
      refuseUnknown: (given) => this.refuseUnknownArguments(given),
    });
    this.decodeFields = compileBoxFieldsDecoder(slots, fieldErrors);
    this.decodesToCopies = slots.every((slot) => !slot.streamed && !slot.descriptor && decodesToCopies(slot.type));
    this.needsConnection = slots.some((slot) => slot.streamed || slot.descriptor);
  }

  /** The values as wire values, keyed like `sortedKeys`; `reserved` fills the reserved keys. */
  encode(values: Encodable<S>, reserved: readonly (PairValue | undefined)[] = []): Buffer {
    return this.encodeParts(values, reserved, Infinity) as Buffer;
  }

  /** As `encode`, with byte values over `zeroCopyAbove` referenced rather than copied (see encodeSortedPairsParts). */
  encodeParts(values: Encodable<S>, reserved: readonly (PairValue | undefined)[], zeroCopyAbove: number): Buffer | Buffer[];
  /** With a sink, the box is written into it when it can be, and `undefined` returned. */
  encodeParts(
    values: Encodable<S>,
    reserved: readonly (PairValue | undefined)[],
    zeroCopyAbove: number,
    sink: FrameSink | undefined,
  ): Buffer | Buffer[] | undefined;
  encodeParts(
    values: Encodable<S>,
    reserved: readonly (PairValue | undefined)[],
    zeroCopyAbove: number,
    sink?: FrameSink,
  ): Buffer | Buffer[] | undefined {
    const given = values as Record<string, unknown>;
    if (this.encodeFields !== undefined) return this.encodeFields(given, reserved, zeroCopyAbove, sink);
    // Counting the given keys costs no lookup per key; they are looked up only when some are not declared.
    let givenCount = 0;
    for (const key in given) if (given[key] !== undefined) givenCount++;
    const layout = this.layout;
    // Reused across calls: encoding is synchronous and a nested AmpList has a schema of its own.
    const wire = this.scratch;
    let declaredCount = 0;
    try {
      for (let i = 0; i < layout.length; i++) {
        const index = layout[i]!;
        if (index < 0) {
          wire[i] = reserved[-index - 1];
          continue;
        }
        const slot = this.slots[index]!;
        const value = given[slot.name];
        if (value !== undefined) declaredCount++;
        if (value === undefined || value === null) {
          if (!slot.optional) {
            this.refuseUnknownArguments(given);
            throw new MissingArgumentError(this.owner, slot.name);
          }
          wire[i] = undefined;
          continue;
        }
        try {
          wire[i] = slot.type.encode(value);
        } catch (error) {
          this.refuseUnknownArguments(given);
          throw new InvalidArgumentError(this.owner, slot.name, error);
        }
      }
      if (declaredCount !== givenCount) this.refuseUnknownArguments(given);
      return encodeSortedPairsParts(this.sortedKeys, wire, zeroCopyAbove, sink);
    } finally {
      // A loop: Array.prototype.fill costs more than the whole encoding of a small box.
      for (let i = 0; i < wire.length; i++) wire[i] = undefined;
    }
  }

  /** Throws for the first given key the schema does not declare (checked before any other argument error). */
  private refuseUnknownArguments(given: Record<string, unknown>): void {
    for (const key in given) {
      if (!this.declared.has(key) && given[key] !== undefined) throw new UnknownArgumentError(this.owner, key);
    }
  }

  /**
   * Reads the declared keys of a box; undeclared extra keys are ignored, as Twisted does. ByteStream
   * arguments need `resolveStream` (the receiving connection's streams), Descriptor arguments
   * `claimDescriptor` (the descriptors it has received).
   */
  decode(box: AmpBox, resolveStream?: StreamResolver, claimDescriptor?: DescriptorClaimer): Decoded<S> {
    if (box instanceof DecodedBox) return this.decodeInPlace(box, resolveStream, claimDescriptor);
    const out: Record<string, unknown> = {};
    for (const slot of this.slots) {
      const bytes = box.get(slot.name);
      if (bytes === undefined) {
        if (!slot.optional) throw new MissingArgumentError(this.owner, slot.name);
        continue;
      }
      try {
        out[slot.name] = decodeBytes(slot, bytes, resolveStream, claimDescriptor);
      } catch (error) {
        throw new InvalidArgumentError(this.owner, slot.name, error);
      }
    }
    return out as Decoded<S>;
  }

  /** `decode` for the decoder's own boxes: values of the built-in scalar types are read without a Buffer view. */
  private decodeInPlace(box: DecodedBox, resolveStream?: StreamResolver, claimDescriptor?: DescriptorClaimer): Decoded<S> {
    if (this.decodeFields !== undefined) {
      const decodeValue = this.needsConnection ? this.valueDecoder(resolveStream, claimDescriptor) : NO_VALUE_DECODER;
      return this.decodeFields(box, decodeValue) as Decoded<S>;
    }
    const out: Record<string, unknown> = {};
    for (const slot of this.slots) {
      const at = box.position(slot.name);
      if (at < 0) {
        if (!slot.optional) throw new MissingArgumentError(this.owner, slot.name);
        continue;
      }
      try {
        out[slot.name] =
          slot.inPlace !== undefined ? box.decodeAt(at, slot.inPlace) : decodeBytes(slot, box.get(slot.name)!, resolveStream, claimDescriptor);
      } catch (error) {
        throw new InvalidArgumentError(this.owner, slot.name, error);
      }
    }
    return out as Decoded<S>;
  }

  // A method of its own: a closure in `decodeInPlace` would cost every decode a context, needed or not.
  private valueDecoder(resolveStream: StreamResolver | undefined, claimDescriptor: DescriptorClaimer | undefined): FieldValueDecoder {
    return (index, bytes) => decodeBytes(this.slots[index]!, bytes, resolveStream, claimDescriptor);
  }
}

/** Stands in for `decodeValue` where no field is a ByteStream or a Descriptor, so it is never called. */
const NO_VALUE_DECODER: FieldValueDecoder = (index) => {
  throw new AmpStateError(`field ${index} is neither a ByteStream nor a Descriptor`);
};

function decodeBytes(slot: Slot, bytes: Buffer, resolveStream: StreamResolver | undefined, claimDescriptor: DescriptorClaimer | undefined): unknown {
  if (slot.streamed) return resolveStreamed(slot.type, bytes, resolveStream);
  return slot.descriptor ? claimed(slot.type, bytes, claimDescriptor) : slot.type.decode(bytes);
}

function resolveStreamed(type: AmpType<unknown, unknown>, bytes: Buffer, resolveStream: StreamResolver | undefined): unknown {
  if (resolveStream === undefined || !isStreamedType(type)) return type.decode(bytes);
  return resolveStream(type.decodeStreamId(bytes));
}

function claimed(type: AmpType<unknown, unknown>, bytes: Buffer, claimDescriptor: DescriptorClaimer | undefined): unknown {
  if (claimDescriptor === undefined || !isDescriptorType(type)) return type.decode(bytes);
  return claimDescriptor(type.decodeOrdinal(bytes));
}
