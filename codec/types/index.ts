/**
 * The AMP argument types, named as in `twisted.protocols.amp` so that schemas read like their
 * Python originals: `{ count: amp.Integer, name: amp.String, when: amp.DateTime.optional() }`.
 */
import type { Schema } from '../schema.js';
import type { AmpType } from './amp-type.js';
import { AmpListType } from './amp-list.js';
import { BooleanType } from './boolean.js';
import { ByteStreamType } from './byte-stream.js';
import { BytesType } from './bytes.js';
import { DateTimeType } from './datetime.js';
import { DecimalType } from './decimal.js';
import { DescriptorType } from './descriptor.js';
import { FloatType } from './float.js';
import { IntegerNumberType, IntegerType } from './integer.js';
import { ListOfType } from './list-of.js';
import { MsgpackType } from './msgpack.js';
import { PathType } from './path.js';
import { UnicodeType } from './unicode.js';

export const Integer = new IntegerType();
/** Integer on the wire, a JS number in code (refuses values beyond 2^53). */
export const IntegerNumber = new IntegerNumberType();
export const String = new BytesType();
export const Bytes = String;
export const Unicode = new UnicodeType();
export const Boolean = new BooleanType();
export const Float = new FloatType();
export const Decimal = new DecimalType();
export const DateTime = new DateTimeType();
export const Path = new PathType();
/** A file descriptor passed over a UNIX socket opened with `fds=yes` (docs/amp-protocol.md §3.6). */
export const Descriptor = new DescriptorType();
/** Not a Twisted type: a msgpack value, for structured data between ampstate peers. */
export function Msgpack<T = unknown>(): MsgpackType<T> {
  return new MsgpackType<T>();
}

/** Not a Twisted type: bytes of any size, streamed through StreamOpen/StreamWrite (docs/amp-protocol.md §7). */
export const ByteStream = new ByteStreamType();

export function ListOf<Out, In>(element: AmpType<Out, In>): ListOfType<Out, In> {
  return new ListOfType(element);
}

export function AmpList<S extends Schema>(schema: S): AmpListType<S> {
  return new AmpListType(schema);
}

export { AmpType, Optional, defineType, type ArgumentSpec, type CustomTypeDefinition } from './amp-type.js';
export { StreamReference, type ByteStreamSource, type ReceivedByteStream } from './byte-stream.js';
export { DecimalValue, type DecimalKind } from './decimal-value.js';
export { DescriptorOrdinal, type DescriptorClaimer } from './descriptor.js';
export { DateTimeValue, type DateTimeFields } from './datetime-value.js';
