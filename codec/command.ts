import { ANSWER, ASK, COMMAND, ERROR, ERROR_CODE, ERROR_DESCRIPTION, type AmpBox, type WireValue } from './box.js';
import { checkKey, encodeSortedPairs, type FrameSink, type PairValue } from './encode-box.js';
import { RemoteAmpError, UnhandledCommandError, UnknownRemoteError } from './errors.js';
import { CompiledSchema, type Decoded, type Encodable, type Schema, type StreamResolver } from './schema.js';
import type { DescriptorClaimer } from './types/descriptor.js';

/** An error class a command declares: constructed from the peer's description text on the caller. */
export type DeclaredErrorClass = new (description: string) => Error;
export type ErrorCodes = Readonly<Record<string, DeclaredErrorClass>>;

export interface CommandDefinition<A extends Schema, R extends Schema> {
  /** The `_command` value; case-sensitive bytes (latin1 here). */
  readonly name: string;
  readonly arguments?: A;
  readonly response?: R;
  /** Error code → class. An instance thrown by a responder is sent with that code. */
  readonly errors?: ErrorCodes;
  /** Like `errors`, but the responder closes the connection after sending the reply. */
  readonly fatalErrors?: ErrorCodes;
  /** False for fire-and-forget: no `_ask`, no answer (the tag is still consumed). Default true. */
  readonly requiresAnswer?: boolean;
}

export interface ErrorMapping {
  readonly code: string;
  readonly fatal: boolean;
}

export const UNKNOWN_ERROR_CODE = 'UNKNOWN';
export const UNHANDLED_ERROR_CODE = 'UNHANDLED';
export const UNKNOWN_ERROR_DESCRIPTION = 'Unknown Error';

const NO_FIELDS: Schema = {};
const ERROR_KEYS = [ERROR, ERROR_CODE, ERROR_DESCRIPTION].sort();

/**
 * A typed AMP command (Twisted's `Command` subclass). Its argument and response types are inferred
 * from the schemas, and it owns every conversion between those values and wire bytes.
 */
export class Command<A extends Schema = Schema, R extends Schema = Schema> {
  readonly name: string;
  readonly requiresAnswer: boolean;
  readonly errors: ErrorCodes;
  readonly fatalErrors: ErrorCodes;
  readonly arguments: CompiledSchema<A>;
  readonly response: CompiledSchema<R>;
  /** The name as raw bytes, ready to be written as the `_command` value. */
  readonly nameBytes: Buffer;
  /**
   * The reserved values (`_ask`, `_command`; `_answer`) of the box being encoded, reused: encoding is
   * synchronous, so no call sees another's. Saves an array per call.
   */
  private readonly reservedScratch: (PairValue | undefined)[];
  private readonly answerScratch: (PairValue | undefined)[] = [undefined];

  constructor(definition: CommandDefinition<A, R>) {
    checkKey(definition.name);
    this.name = definition.name;
    this.nameBytes = Buffer.from(definition.name, 'latin1');
    this.reservedScratch = [undefined, this.nameBytes];
    this.requiresAnswer = definition.requiresAnswer ?? true;
    this.errors = definition.errors ?? {};
    this.fatalErrors = definition.fatalErrors ?? {};
    this.arguments = new CompiledSchema(definition.name, definition.arguments ?? (NO_FIELDS as A), [ASK, COMMAND]);
    this.response = new CompiledSchema(`${definition.name} response`, definition.response ?? (NO_FIELDS as R), [ANSWER]);
  }

  /** A request box; `tag` undefined leaves `_ask` out (fire-and-forget). */
  encodeRequest(tag: string | undefined, args: Encodable<A>): Buffer {
    return this.arguments.encode(args, [tag, this.nameBytes]);
  }

  /**
   * A request whose large byte values are referenced, not copied: for a connection's writev. A tag
   * given as a number is written as its lower-case hex digits.
   */
  encodeRequestParts(tag: string | number | undefined, args: Encodable<A>, zeroCopyAbove: number): Buffer | Buffer[];
  /** With a sink, the request is written into it when it can be, and `undefined` returned. */
  encodeRequestParts(tag: string | number | undefined, args: Encodable<A>, zeroCopyAbove: number, sink: FrameSink | undefined): Buffer | Buffer[] | undefined;
  encodeRequestParts(tag: string | number | undefined, args: Encodable<A>, zeroCopyAbove: number, sink?: FrameSink): Buffer | Buffer[] | undefined {
    const reserved = this.reservedScratch;
    reserved[0] = tag;
    return this.arguments.encodeParts(args, reserved, zeroCopyAbove, sink);
  }

  /** `resolveStream` turns the ids of ByteStream arguments into the receiving connection's streams. */
  decodeArguments(box: AmpBox, resolveStream?: StreamResolver, claimDescriptor?: DescriptorClaimer): Decoded<A> {
    return this.arguments.decode(box, resolveStream, claimDescriptor);
  }

  /** `tag` is echoed verbatim: the request's `_ask` bytes can be passed as they came. */
  encodeAnswer(tag: WireValue, response: Encodable<R>): Buffer {
    return this.response.encode(response, [tag]);
  }

  /** A tag given as a number (one that was canonical hex on the wire) is written as its hex digits. */
  encodeAnswerParts(tag: WireValue | number, response: Encodable<R>, zeroCopyAbove: number): Buffer | Buffer[];
  /** With a sink, the answer is written into it when it can be, and `undefined` returned. */
  encodeAnswerParts(tag: WireValue | number, response: Encodable<R>, zeroCopyAbove: number, sink: FrameSink | undefined): Buffer | Buffer[] | undefined;
  encodeAnswerParts(tag: WireValue | number, response: Encodable<R>, zeroCopyAbove: number, sink?: FrameSink): Buffer | Buffer[] | undefined {
    const reserved = this.answerScratch;
    reserved[0] = tag;
    try {
      return this.response.encodeParts(response, reserved, zeroCopyAbove, sink);
    } finally {
      reserved[0] = undefined;
    }
  }

  /** `claimDescriptor` turns the ordinals of Descriptor values into the descriptors that arrived. */
  decodeResponse(box: AmpBox, claimDescriptor?: DescriptorClaimer): Decoded<R> {
    return this.response.decode(box, undefined, claimDescriptor);
  }

  /** The declared code for an error a responder threw, or undefined (→ UNKNOWN, then close). */
  errorMappingOf(error: unknown): ErrorMapping | undefined {
    for (const [code, type] of Object.entries(this.errors)) if (error instanceof type) return { code, fatal: false };
    for (const [code, type] of Object.entries(this.fatalErrors)) if (error instanceof type) return { code, fatal: true };
    return undefined;
  }

  /** The caller-side error for an error reply, mapped back through the declared codes (docs/amp-protocol.md §2.6). */
  errorFromReply(code: string, description: string): Error {
    const type = this.errors[code] ?? this.fatalErrors[code];
    if (type !== undefined) return new type(description);
    return remoteErrorFromReply(code, description);
  }
}

export function defineCommand<const A extends Schema = {}, const R extends Schema = {}>(
  definition: CommandDefinition<A, R>,
): Command<A, R> {
  return new Command(definition);
}

/** For raw calls and undeclared codes: UNHANDLED keeps its class, anything else is UnknownRemoteError. */
export function remoteErrorFromReply(code: string, description: string): RemoteAmpError {
  if (code === UNHANDLED_ERROR_CODE) return new UnhandledCommandError(code, description);
  return new UnknownRemoteError(description, code);
}

/** An error reply box: `_error`, `_error_code`, `_error_description`. */
export function encodeErrorReply(tag: WireValue | number, code: string, description: string): Buffer {
  return encodeSortedPairs(ERROR_KEYS, [tag, Buffer.from(code, 'latin1'), description]);
}

export type ArgumentsOf<C> = C extends Command<infer A, any> ? Encodable<A> : never;
export type ReceivedArgumentsOf<C> = C extends Command<infer A, any> ? Decoded<A> : never;
export type ResponseOf<C> = C extends Command<any, infer R> ? Decoded<R> : never;
export type AnswerOf<C> = C extends Command<any, infer R> ? Encodable<R> : never;
