import type { Duplex } from 'node:stream';
import { ANSWER, ASK, COMMAND, type AmpBox, type OutgoingBox } from '../../codec/box.js';
import {
  type Command,
  UNHANDLED_ERROR_CODE,
  UNKNOWN_ERROR_CODE,
  UNKNOWN_ERROR_DESCRIPTION,
  encodeErrorReply,
} from '../../codec/command.js';
import '../../codec/buffer-fast-paths.js';
import { DecodedBox } from '../../codec/decoded-box.js';
import { encodeBox, type FrameSink } from '../../codec/encode-box.js';
import { AmpStateError, KeyTooLongError, StreamFailedError, UnhandledCommandError, ValueTooLongError } from '../../codec/errors.js';
import { StartTLS } from '../../codec/protocols/start-tls.js';
import { pythonBytesRepr } from '../../codec/python-repr.js';
import type { StreamResolver } from '../../codec/schema.js';
import { ProtocolSwitchAnswer, type RawResponder, type ResponderTable, TlsAnswer, type TypedEntry } from '../responders.js';
import type { TlsOptions } from '../tls-options.js';
import { ZERO_COPY_ABOVE, parseTagIn, type Frame } from './frame.js';
import { bindDescriptors, type DescriptorExchange } from './descriptor-exchange.js';
import type { StreamRegistry } from './stream-registry.js';
import { RecentNames } from './recent-names.js';
import { streamResponders } from './stream-responders.js';

/**
 * A request's `_ask` value as the runner keeps it until the answer: a canonical hex tag (what Twisted
 * and ampstate send) as its number, which the answer's encoder writes back as the same digits
 * without a Buffer view or a string per call; any other tag as its bytes, echoed verbatim.
 */
export type AskTag = Uint8Array | number;

/** The tag's bytes, for the rare answers that are not encoded by a schema. */
function askBytes(tag: AskTag): Uint8Array;
function askBytes(tag: AskTag | undefined): Uint8Array | undefined;
function askBytes(tag: AskTag | undefined): Uint8Array | undefined {
  return typeof tag === 'number' ? Buffer.from(tag.toString(16), 'latin1') : tag;
}

function askTagOf(box: AmpBox): AskTag | undefined {
  if (!(box instanceof DecodedBox)) return box.get(ASK);
  const number = box.read(ASK, parseTagIn);
  // A tag of another form is copied: it is kept until the answer, and the box's slab may be read
  // into again before that (codec/slab-leases.ts).
  return number === undefined ? undefined : number >= 0 ? number : Buffer.from(box.get(ASK)!);
}

/** A responder that failed because its stream failed on the sending side: the sender knows why, and the connection stays. */
const STREAM_FAILED = { code: 'STREAM_FAILED', fatal: false } as const;

export interface ResponderRunnerHost {
  sendAnswer(frame: Frame): void;
  /** Where an answer may be encoded in place now (the gate is open), or undefined. */
  answerSink(): FrameSink | undefined;
  /** A responder agreed to StartTLS; the StartTLS machine decides whether it may. */
  answerStartTls(tag: Uint8Array | undefined, options: TlsOptions): void;
  /** A responder agreed to switch protocols; the protocolSwitch machine decides whether it may. */
  answerSwitch(tag: Uint8Array | undefined, receiver: (transport: Duplex) => void): void;
  /** Drops the connection; `logged` says whether this is an unhandled error worth a log line. */
  dropConnection(reason: Error, logged: boolean): void;
  /** The concurrency limit was reached, or has room again: the inputFlow machine decides. */
  respondersFull(): void;
  respondersBelowLimit(): void;
  /** Cache of the inputFlow machine's context, read on every settled responder. */
  readonly respondersPaused: boolean;
}

/**
 * Twisted's CommandLocator and the responding half of BoxDispatcher: finds the handler for a
 * command, runs it (sync or async), turns its result or error into the answer box, and keeps async
 * responders in flight under a limit.
 */
export class ResponderRunner {
  private inflight = 0;

  constructor(
    private readonly table: ResponderTable,
    private readonly host: ResponderRunnerHost,
    private readonly maxConcurrent: number,
    defaultTls: TlsOptions,
    /** Where ByteStream arguments are received; undefined refuses them (docs/amp-protocol.md §3.7). */
    streams?: StreamRegistry,
    /** The connection's descriptor passing; undefined refuses Descriptor arguments (docs/amp-protocol.md §3.6). */
    private readonly descriptors?: DescriptorExchange,
  ) {
    // Twisted's default StartTLS responder: no certificate of its own (a temporary one if TLS server).
    this.defaultStartTls = { command: StartTLS, handler: () => new TlsAnswer(defaultTls) };
    this.streamCommands = streams === undefined ? new Map() : streamResponders(streams);
    this.resolveStream = streams === undefined ? undefined : (streamId) => streams.claim(streamId);
  }

  private readonly defaultStartTls: TypedEntry;
  /** Used when the table has no responder of that name, typed or raw (trial's manager has its own). */
  private readonly streamCommands: ReadonlyMap<string, TypedEntry>;
  private readonly resolveStream: StreamResolver | undefined;
  private readonly recentNames = new RecentNames();

  /** A box with `_command`: locate, run, answer (docs/amp-protocol.md §2.5, §2.9). */
  run(box: AmpBox): void {
    // Read without a Buffer view, and without a new string when the name came lately.
    const name = box instanceof DecodedBox ? box.read(COMMAND, this.recentNames.read)! : box.get(COMMAND)!.toString('latin1');
    const tag = askTagOf(box);
    const typed = this.table.typedFor(name) ?? (name === StartTLS.name ? this.defaultStartTls : undefined);
    if (typed !== undefined) {
      this.runTyped(typed, box, tag);
      return;
    }
    const raw = this.table.rawFor(name);
    if (raw !== undefined) {
      this.runRaw(raw, name, box, tag);
      return;
    }
    const streamCommand = this.streamCommands.get(name);
    if (streamCommand !== undefined) {
      this.runTyped(streamCommand, box, tag);
      return;
    }
    const description = `Unhandled Command: ${pythonBytesRepr(box.get(COMMAND)!)}`;
    if (tag === undefined) this.host.dropConnection(new UnhandledCommandError(UNHANDLED_ERROR_CODE, description), true);
    else this.host.sendAnswer(encodeErrorReply(tag, UNHANDLED_ERROR_CODE, description));
  }

  /**
   * Declared errors are sent with their code (fatal ones then close); anything else is UNKNOWN and
   * closes, as does any failure of a fire-and-forget command (docs/amp-protocol.md §2.5).
   */
  respondWithError(command: Command<any, any> | undefined, tag: AskTag | undefined, error: unknown): void {
    const reason = error instanceof Error ? error : new AmpStateError(String(error));
    if (tag === undefined) {
      this.host.dropConnection(reason, true);
      return;
    }
    const mapping = command?.errorMappingOf(error) ?? (error instanceof StreamFailedError ? STREAM_FAILED : undefined);
    if (mapping !== undefined) {
      this.host.sendAnswer(encodeErrorReply(tag, mapping.code, reason.message));
      if (mapping.fatal) this.host.dropConnection(reason, false);
      return;
    }
    this.host.sendAnswer(encodeErrorReply(tag, UNKNOWN_ERROR_CODE, UNKNOWN_ERROR_DESCRIPTION));
    this.host.dropConnection(reason, true);
  }

  private runTyped(entry: TypedEntry, box: AmpBox, tag: AskTag | undefined): void {
    let result;
    try {
      const streamed = entry.command.arguments.streamedKeys.length > 0;
      result = entry.handler(entry.command.decodeArguments(box, streamed ? this.resolveStream : undefined, this.descriptors?.claim), { box });
    } catch (error) {
      this.respondWithError(entry.command, tag, error);
      return;
    }
    if (isPromiseLike(result)) {
      this.awaitResponse(
        result,
        (value) => this.respondWithValue(entry.command, tag, value),
        (error) => this.respondWithError(entry.command, tag, error),
      );
    } else {
      this.respondWithValue(entry.command, tag, result);
    }
  }

  private runRaw(handler: RawResponder, name: string, box: AmpBox, tag: AskTag | undefined): void {
    const answer = (fields: OutgoingBox) => {
      if (tag === undefined) return;
      const reply = new Map(fields instanceof Map ? fields : Object.entries(fields));
      reply.set(ANSWER, askBytes(tag));
      this.host.sendAnswer(encodeBox(reply));
    };
    let result;
    try {
      result = handler(box, name);
    } catch (error) {
      this.respondWithError(undefined, tag, error);
      return;
    }
    if (isPromiseLike(result)) this.awaitResponse(result, answer, (error) => this.respondWithError(undefined, tag, error));
    else answer(result);
  }

  /** A slow responder must not let requests pile up without bound: at the limit, reading pauses. */
  private awaitResponse<T>(result: PromiseLike<T>, onValue: (value: T) => void, onError: (error: unknown) => void): void {
    if (++this.inflight >= this.maxConcurrent && !this.host.respondersPaused) this.host.respondersFull();
    const settle = () => {
      if (--this.inflight < this.maxConcurrent && this.host.respondersPaused) this.host.respondersBelowLimit();
    };
    result.then(
      (value) => {
        settle();
        onValue(value);
      },
      (error: unknown) => {
        settle();
        onError(error);
      },
    );
  }

  private respondWithValue(command: Command<any, any>, tag: AskTag | undefined, value: unknown): void {
    if (value instanceof TlsAnswer) {
      this.host.answerStartTls(askBytes(tag), value.options);
      return;
    }
    if (value instanceof ProtocolSwitchAnswer) {
      this.host.answerSwitch(askBytes(tag), value.onSwitched);
      return;
    }
    if (tag === undefined) return;
    let frame: Frame | undefined;
    try {
      const answer = command.response.descriptorKeys.length === 0 ? value : bindDescriptors(command.response, value, this.descriptors);
      frame = command.encodeAnswerParts(tag, (answer ?? {}) as never, ZERO_COPY_ABOVE, this.host.answerSink());
    } catch (error) {
      if (error instanceof ValueTooLongError || error instanceof KeyTooLongError) {
        // Twisted cannot serialise the answer either: it logs and drops the connection, unanswered.
        this.host.dropConnection(error, true);
        return;
      }
      this.respondWithError(undefined, tag, error);
      return;
    }
    if (frame !== undefined) this.host.sendAnswer(frame);
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}
