import type { Duplex } from 'node:stream';
import type { AmpBox, OutgoingBox } from '../codec/box.js';
import type { AnswerOf, Command, ReceivedArgumentsOf } from '../codec/command.js';
import type { TlsOptions } from './tls-options.js';

/** What a responder may hand back besides its answer fields. */
export class ProtocolSwitchAnswer {
  constructor(
    /** Called with the raw transport once the answer is written; unparsed bytes are already back on it. */
    readonly onSwitched: (transport: Duplex) => void,
  ) {}
}

export class TlsAnswer {
  constructor(readonly options: TlsOptions) {}
}

/** Answer a ProtocolSwitch-style command: after the answer, the bytes belong to `onSwitched`. */
export function switchProtocol(onSwitched: (transport: Duplex) => void): ProtocolSwitchAnswer {
  return new ProtocolSwitchAnswer(onSwitched);
}

/** Answer StartTLS with our certificate and, optionally, the CAs the peer must chain to. */
export function startTlsWith(options: TlsOptions): TlsAnswer {
  return new TlsAnswer(options);
}

export interface ResponderContext {
  /** The raw incoming box, for undeclared extra keys. */
  readonly box: AmpBox;
}

type Answer<C> = AnswerOf<C> | ProtocolSwitchAnswer | TlsAnswer;

/** A typed responder: sync or async, receives decoded arguments, returns the response fields. */
export type Responder<C extends Command<any, any>> = (
  args: ReceivedArgumentsOf<C>,
  context: ResponderContext,
) => Answer<C> | Promise<Answer<C>>;

/** Twisted's `amp_COMMAND` fallback: gets the raw box, returns the raw answer fields. */
export type RawResponder = (box: AmpBox, name: string) => OutgoingBox | Promise<OutgoingBox>;

export interface TypedEntry {
  readonly command: Command<any, any>;
  readonly handler: Responder<Command<any, any>>;
}

/**
 * Which handler serves which `_command`: typed responders by exact name first, then raw
 * responders, then a locator function for names known only at run time.
 */
export class ResponderTable {
  private readonly typed = new Map<string, TypedEntry>();
  private readonly raw = new Map<string, RawResponder>();
  private locator: ((name: string) => RawResponder | undefined) | undefined;

  on<C extends Command<any, any>>(command: C, handler: Responder<C>): this {
    this.typed.set(command.name, { command, handler: handler as Responder<Command<any, any>> });
    return this;
  }

  onRaw(name: string, handler: RawResponder): this {
    this.raw.set(name, handler);
    return this;
  }

  /** Last resort for names with no registered responder. */
  fallback(locator: (name: string) => RawResponder | undefined): this {
    this.locator = locator;
    return this;
  }

  typedFor(name: string): TypedEntry | undefined {
    return this.typed.get(name);
  }

  rawFor(name: string): RawResponder | undefined {
    return this.raw.get(name) ?? this.locator?.(name);
  }
}

export function responders(): ResponderTable {
  return new ResponderTable();
}
