import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { Subject, type Observable } from 'rxjs';
import { createActor, type Actor, type AnyActorLogic, type InspectionEvent, type Observer } from 'xstate';
import { ANSWER, ASK, COMMAND, ERROR, ERROR_CODE, ERROR_DESCRIPTION, type AmpBox, type OutgoingBox } from '../codec/box.js';
import { BoxDecoder, type FramingTrace } from '../codec/box-decoder.js';
import { classifyBox } from '../codec/classify-box.js';
import {
  type ArgumentsOf,
  type Command,
  type ResponseOf,
  UNHANDLED_ERROR_CODE,
  UNKNOWN_ERROR_CODE,
  UNKNOWN_ERROR_DESCRIPTION,
  encodeErrorReply,
  remoteErrorFromReply,
} from '../codec/command.js';
import { encodeBox } from '../codec/encode-box.js';
import {
  AmpStateError,
  CallTimeoutError,
  ConnectionDoneError,
  ConnectionLostError,
  KeyTooLongError,
  OnlyOneTLSError,
  PeerVerifyError,
  ProtocolSwitchedError,
  UnhandledCommandError,
  UnknownTagError,
  ValueTooLongError,
} from '../codec/errors.js';
import { StartTLS } from '../codec/protocols/start-tls.js';
import { pythonBytesRepr } from '../codec/python-repr.js';
import { connectionMachine } from '../machines/connection.js';
import { framingMachine } from '../machines/framing.js';
import { protocolSwitchMachine } from '../machines/protocol-switch.js';
import { requestsMachine } from '../machines/requests.js';
import { startTlsMachine } from '../machines/start-tls.js';
import { describeAddress } from './describe-address.js';
import { defaultLogger, type Logger } from './logger.js';
import { inspectorFromEnvironment } from './pino-inspector.js';
import { PrefixedDuplex } from './prefixed-duplex.js';
import {
  ProtocolSwitchAnswer,
  type RawResponder,
  ResponderTable,
  TlsAnswer,
  type TypedEntry,
} from './responders.js';
import { temporaryServerCertificate, type PeerCertificate, type TlsOptions } from './tls-options.js';

export type Inspector = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

export interface AmpConnectionOptions {
  readonly responders?: ResponderTable;
  readonly logger?: Logger;
  /** The class name in log lines, as Twisted logs `<ClassName> connection established`. */
  readonly name?: string;
  /** Our TCP role. The TLS role follows it, whoever asks for StartTLS (Twisted #5690). */
  readonly role?: 'client' | 'server';
  /** Any xstate inspector (Stately's, or the pino one); sees every control machine. */
  readonly inspect?: Inspector;
  /** Also run the xstate framing machine on every string (slow: for watching, not for production). */
  readonly traceFraming?: boolean;
  /** Certificate used by the built-in StartTLS responder. */
  readonly tls?: TlsOptions;
  /** Async responders allowed in flight before reading pauses. */
  readonly maxConcurrentResponses?: number;
  /** Bytes queued for the peer before reading pauses until they drain. */
  readonly maxWriteBuffer?: number;
  /** Set when the transport is already connected (the default); false waits for `connect`. */
  readonly connected?: boolean;
}

export interface CallOptions {
  /** Fail the call with CallTimeoutError after this long; a late answer is then ignored. */
  readonly timeoutMs?: number;
}

export type AmpConnectionEvent =
  | { readonly type: 'open' }
  | { readonly type: 'tls'; readonly peerCertificate: PeerCertificate | undefined }
  | { readonly type: 'switched' }
  | { readonly type: 'paused'; readonly reason: PauseReason }
  | { readonly type: 'resumed' }
  | { readonly type: 'closed'; readonly reason: Error };

type PauseReason = 'write-buffer' | 'responders';

interface PendingCall {
  readonly command: Command<any, any> | undefined;
  readonly resolve: (value: any) => void;
  readonly reject: (error: Error) => void;
  /** StartTLS and protocol switches act on their answer before the next byte is parsed. */
  readonly onReply?: (box: AmpBox, isError: boolean) => void;
  timer?: NodeJS.Timeout;
  abandoned?: boolean;
}

type Upgrade =
  | { readonly kind: 'tls'; readonly options: TlsOptions; readonly done: (error?: Error) => void }
  | { readonly kind: 'switch'; readonly done: (transport: Duplex) => void };

const RESOLVED_EMPTY: Promise<any> = Promise.resolve({});
/** Byte values larger than this go out as they are (writev) instead of being copied into the frame. */
const ZERO_COPY_ABOVE = 8 * 1024;

/** One encoded box: a single buffer, or parts that are written back to back. */
type Frame = Buffer | readonly Buffer[];
/** A corked batch this large is written at once (measured: 8–16 KiB best on loopback, +50 % pipelined). */
const EARLY_FLUSH_BYTES = 16 * 1024;
let connectionCounter = 0;

/**
 * One AMP connection over any Duplex (TCP, TLS, pipes, an in-memory pair), with Twisted's
 * semantics exactly: tags, error codes, fatal errors, StartTLS and protocol switching.
 *
 * The hot path (boxes, calls, answers) is plain code over a Map of outstanding requests; the xstate
 * machines receive only control events (open, TLS, switch, close) so they cost nothing per call.
 */
export class AmpConnection {
  readonly id = ++connectionCounter;
  readonly logger: Logger;
  readonly responders: ResponderTable;
  readonly role: 'client' | 'server';
  /** Resolves with the close reason once the transport has closed and every pending call failed. */
  readonly closed: Promise<Error>;

  private transport: Duplex;
  private decoder: BoxDecoder;
  /** Keyed by the tag's number: answers are matched without building a string per answer. */
  private readonly outstanding = new Map<number, PendingCall>();
  private tagCounter = 0;
  private readonly eventsSubject = new Subject<AmpConnectionEvent>();
  private readonly className: string;
  private readonly options: AmpConnectionOptions;

  private readonly connectionActor: Actor<typeof connectionMachine>;
  private readonly requestsActor: Actor<typeof requestsMachine>;
  private readonly tlsActor: Actor<typeof startTlsMachine>;
  private readonly switchActor: Actor<typeof protocolSwitchMachine>;
  private readonly framingActor: Actor<typeof framingMachine> | undefined;

  private closeReason: Error | undefined;
  private isOpen = false;
  private closeRequested = false;
  private switched = false;
  /** Why we decided to drop the connection; outranks the transport's own reason. */
  private failure: Error | undefined;
  private resolveClosed!: (reason: Error) => void;
  private corked = false;
  private parsing = false;
  private pendingUpgrade: Upgrade | undefined;
  private locked = false;
  private tlsQueue: Frame[] | undefined;
  private tlsRequested = false;
  /** The StartTLS request was refused: queued boxes stay queued for good, as in Twisted. */
  private tlsRefused = false;
  private tlsHandshake: 'none' | 'pending' | 'done' | 'failed' = 'none';
  private secureSocket: tls.TLSSocket | undefined;
  /** Bytes received since TLS started: a close before any means the peer refused our certificate. */
  private receivedSinceTls = -1;
  private readonly pauses = new Set<PauseReason>();
  private inflightResponses = 0;
  private readonly maxConcurrentResponses: number;
  private readonly maxWriteBuffer: number;

  constructor(transport: Duplex, options: AmpConnectionOptions = {}) {
    this.options = options;
    this.transport = transport;
    this.responders = options.responders ?? new ResponderTable();
    this.role = options.role ?? 'client';
    this.className = options.name ?? 'AMP';
    this.maxConcurrentResponses = options.maxConcurrentResponses ?? 1024;
    this.maxWriteBuffer = options.maxWriteBuffer ?? 1 << 20;
    this.logger = (options.logger ?? defaultLogger).child({ connection: this.id });
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));

    const inspect = options.inspect ?? inspectorFromEnvironment();
    this.connectionActor = createActor(connectionMachine, { inspect }).start();
    this.requestsActor = createActor(requestsMachine, { inspect }).start();
    this.tlsActor = createActor(startTlsMachine, { inspect }).start();
    this.switchActor = createActor(protocolSwitchMachine, { inspect }).start();
    this.framingActor = options.traceFraming ? createActor(framingMachine, { inspect }).start() : undefined;

    this.decoder = this.createDecoder();
    this.attach(transport);
    if (options.connected ?? true) this.opened();
    else transport.once('connect', () => this.opened());
  }

  /** Lifecycle events; completes after `closed`. */
  get events$(): Observable<AmpConnectionEvent> {
    return this.eventsSubject.asObservable();
  }

  /** The connection machine's state: connecting, open, tls, switched, closing or closed. */
  get state(): string {
    return String(this.connectionActor.getSnapshot().value);
  }

  /** Control machines, for inspection and model-based tests. */
  get machines(): Readonly<Record<string, Actor<AnyActorLogic>>> {
    const machines: Record<string, Actor<AnyActorLogic>> = {
      connection: this.connectionActor,
      requests: this.requestsActor,
      startTls: this.tlsActor,
      protocolSwitch: this.switchActor,
    };
    if (this.framingActor !== undefined) machines.framing = this.framingActor;
    return machines;
  }

  /**
   * The state as the connection's behaviour shows it, derived from its own fields and not from the
   * machine: model-based tests compare the two.
   */
  get observedState(): 'connecting' | 'open' | 'tls' | 'switched' | 'closing' | 'closed' {
    if (this.closeReason !== undefined) return 'closed';
    if (this.closeRequested) return 'closing';
    if (this.switched) return 'switched';
    if (this.secureSocket !== undefined) return 'tls';
    return this.isOpen ? 'open' : 'connecting';
  }

  /** StartTLS progress as the behaviour shows it (queueing, handshake), for model-based tests. */
  get observedTlsState(): 'plain' | 'buffering' | 'wedged' | 'handshaking' | 'secure' | 'failed' {
    if (this.tlsHandshake === 'done') return 'secure';
    if (this.tlsHandshake === 'failed') return 'failed';
    if (this.tlsHandshake === 'pending') return 'handshaking';
    if (this.tlsQueue !== undefined) return this.tlsRefused ? 'wedged' : 'buffering';
    return 'plain';
  }

  get isClosed(): boolean {
    return this.closeReason !== undefined;
  }

  get pendingCalls(): number {
    return this.outstanding.size;
  }

  get peerCertificate(): PeerCertificate | undefined {
    const certificate = this.secureSocket?.getPeerCertificate();
    return certificate === undefined || Object.keys(certificate).length === 0 ? undefined : certificate;
  }

  get hostCertificate(): PeerCertificate | undefined {
    const certificate = this.secureSocket?.getCertificate();
    return certificate === null || certificate === undefined || Object.keys(certificate).length === 0
      ? undefined
      : (certificate as PeerCertificate);
  }

  /**
   * Calls a typed command. Like Twisted, argument errors (missing, undeclared, oversize) throw
   * synchronously and consume a tag; a fire-and-forget command resolves once written.
   */
  callRemote<C extends Command<any, any>>(command: C, args: ArgumentsOf<C>, options?: CallOptions): Promise<ResponseOf<C>> {
    const tag = ++this.tagCounter;
    if (!command.requiresAnswer) {
      if (this.closeReason !== undefined) return RESOLVED_EMPTY;
      this.sendBox(command.encodeRequest(undefined, args));
      return RESOLVED_EMPTY;
    }
    if (this.closeReason !== undefined) return Promise.reject(this.closeReason);
    this.sendBox(command.encodeRequestParts(tag.toString(16), args, ZERO_COPY_ABOVE));
    return this.track(tag, command, options);
  }

  /** The untyped call: resolves with the raw answer box (including `_answer`). */
  callRemoteString(
    name: string,
    fields: Readonly<Record<string, string | Uint8Array>> = {},
    options: CallOptions & { readonly requiresAnswer?: boolean } = {},
  ): Promise<AmpBox> {
    const tag = ++this.tagCounter;
    const wantsAnswer = options.requiresAnswer ?? true;
    if (this.closeReason !== undefined) return wantsAnswer ? Promise.reject(this.closeReason) : RESOLVED_EMPTY;
    const box: Record<string, string | Uint8Array> = { ...fields, [COMMAND]: Buffer.from(name, 'latin1') };
    if (wantsAnswer) box[ASK] = tag.toString(16);
    this.sendBox(encodeBox(box));
    return wantsAnswer ? this.track(tag, undefined, options) : RESOLVED_EMPTY;
  }

  /**
   * Asks the peer to start TLS (spec §4). Boxes sent meanwhile are queued and go out over TLS.
   * Resolves with the peer's certificate once the handshake is done.
   */
  async startTLS(options: TlsOptions = {}): Promise<PeerCertificate | undefined> {
    // Twisted sends a second StartTLS and then raises, wedging the connection; refusing first is kinder.
    if (this.tlsRequested) throw new OnlyOneTLSError();
    this.tlsRequested = true;
    const tlsOptions = this.role === 'server' && options.cert === undefined ? { ...options, ...(await temporaryServerCertificate()) } : options;
    return new Promise((resolve, reject) => {
      const tag = ++this.tagCounter;
      this.sendBox(StartTLS.encodeRequest(tag.toString(16), {}));
      this.tlsQueue = [];
      this.tlsActor.send({ type: 'requested' });
      this.track(tag, StartTLS, {}, (box, isError) => {
        if (isError) {
          this.tlsRefused = true;
          this.tlsActor.send({ type: 'refused' });
          reject(this.replyError(StartTLS, box));
          return;
        }
        this.tlsActor.send({ type: 'answered' });
        this.requestUpgrade({
          kind: 'tls',
          options: tlsOptions,
          done: (error) => (error === undefined ? resolve(this.peerCertificate) : reject(error)),
        });
      }).catch(reject);
    });
  }

  /**
   * Sends a ProtocolSwitchCommand-style command (spec §5). From now on no box can be sent; on the
   * answer the raw transport is handed over, with any bytes that followed the answer put back on it.
   * An error answer unlocks the connection and rejects.
   */
  switchProtocol<C extends Command<any, any>>(command: C, args: ArgumentsOf<C>): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const tag = ++this.tagCounter;
      this.sendBox(command.encodeRequest(tag.toString(16), args));
      this.locked = true;
      this.switchActor.send({ type: 'requested' });
      this.track(tag, command, {}, (box, isError) => {
        if (isError) {
          this.locked = false;
          this.switchActor.send({ type: 'refused' });
          reject(this.replyError(command, box));
          return;
        }
        this.switchActor.send({ type: 'answered' });
        this.requestUpgrade({ kind: 'switch', done: resolve });
      }).catch(reject);
    });
  }

  /** Graceful close: queued bytes are flushed first; pending calls then fail with ConnectionDone. */
  close(): void {
    if (this.closeReason !== undefined || this.closeRequested) return;
    this.closeRequested = true;
    this.connectionActor.send({ type: 'closeRequested' });
    this.flushCork();
    const transport = this.transport;
    transport.end();
    transport.once('finish', () => transport.destroy());
  }

  /** Hard close, like `abortConnection`: nothing more is written. */
  abort(reason: Error = new ConnectionLostError('connection aborted')): void {
    if (this.closeReason !== undefined) return;
    this.failure ??= reason;
    this.closeRequested = true;
    this.connectionActor.send({ type: 'closeRequested', reason: reason.message });
    this.transport.destroy();
  }

  /** Resolves when the outgoing buffer has room again; a flood of calls should await it. */
  whenWritable(): Promise<void> {
    if (this.closeReason !== undefined) return Promise.reject(this.closeReason);
    if (!this.transport.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        this.transport.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        this.transport.off('drain', onDrain);
        reject(this.closeReason ?? new ConnectionDoneError());
      };
      this.transport.once('drain', onDrain);
      this.transport.once('close', onClose);
    });
  }

  /** Twisted's repr: `<AMP at 0x…>`, with the inner protocol noted after a switch. */
  toString(): string {
    return `<${this.className}${this.state === 'switched' ? ' switched' : ''} #${this.id}>`;
  }

  // ---------------------------------------------------------------- sending

  private track(tag: number, command: Command<any, any> | undefined, options?: CallOptions, onReply?: PendingCall['onReply']): Promise<any> {
    return new Promise((resolve, reject) => {
      const pending: PendingCall = { command, resolve, reject, onReply };
      this.outstanding.set(tag, pending);
      const timeoutMs = options?.timeoutMs;
      if (timeoutMs !== undefined) {
        pending.timer = setTimeout(() => {
          pending.abandoned = true;
          reject(new CallTimeoutError(command?.name ?? 'call', timeoutMs));
        }, timeoutMs);
        pending.timer.unref?.();
      }
    });
  }

  /** Every outgoing box goes through here: the switch lock and the StartTLS queue apply to all. */
  private sendBox(bytes: Frame): void {
    if (this.locked) throw new ProtocolSwitchedError();
    if (this.tlsQueue !== undefined) {
      this.tlsQueue.push(bytes);
      return;
    }
    if (this.closeReason !== undefined) throw this.closeReason;
    this.write(bytes);
  }

  /** Answers produced after a close or during a switch are dropped silently, as Twisted does. */
  private sendAnswer(bytes: Frame): void {
    if (this.locked || this.closeReason !== undefined) return;
    if (this.tlsQueue !== undefined) {
      this.tlsQueue.push(bytes);
      return;
    }
    this.write(bytes);
  }

  /** Boxes written in one tick leave in one writev: pipelined calls cost one syscall, not one each. */
  private write(bytes: Frame): void {
    const transport = this.transport;
    if (!this.corked) {
      this.corked = true;
      transport.cork();
      process.nextTick(this.uncork);
    }
    if (Array.isArray(bytes)) for (const part of bytes) transport.write(part);
    else transport.write(bytes);
    // Let a long batch leave early: the peer starts on the first answers while we make the rest,
    // instead of both ends taking turns over whole batches.
    if (transport.writableLength >= EARLY_FLUSH_BYTES) {
      transport.uncork();
      transport.cork();
    }
    if (transport.writableLength > this.maxWriteBuffer && !this.pauses.has('write-buffer')) {
      this.pauseInput('write-buffer');
      transport.once('drain', () => this.resumeInput('write-buffer'));
    }
  }

  private readonly uncork = (): void => {
    if (!this.corked) return;
    this.corked = false;
    this.transport.uncork();
  };

  private flushCork(): void {
    this.uncork();
  }

  // ---------------------------------------------------------------- receiving

  private createDecoder(): BoxDecoder {
    const framing = this.framingActor;
    return new BoxDecoder({
      onBox: this.onBox,
      onError: (error) => {
        // The decoder gives up on the prefix alone; the trace machine learns it from the same length.
        framing?.send({ type: 'string', length: error.keyLength });
        this.protocolFailure(error);
      },
      onTrace: framing === undefined ? undefined : (trace: FramingTrace) => framing.send({ type: 'string', length: trace.length }),
    });
  }

  private attach(transport: Duplex): void {
    transport.on('data', this.onData);
    transport.on('error', this.onTransportError);
    transport.on('close', this.onTransportClose);
  }

  private detach(transport: Duplex): void {
    transport.off('data', this.onData);
    transport.off('error', this.onTransportError);
    transport.off('close', this.onTransportClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.receivedSinceTls >= 0) this.receivedSinceTls += chunk.length;
    this.parsing = true;
    this.decoder.push(chunk);
    this.parsing = false;
    if (this.pendingUpgrade !== undefined) this.performUpgrade();
  };

  private readonly onBox = (box: AmpBox): void => {
    let kind;
    try {
      kind = classifyBox(box);
    } catch (error) {
      this.protocolFailure(error as Error);
      return;
    }
    if (kind === 'command') this.onCommand(box);
    else this.onReply(box, kind === 'error');
  };

  private onReply(box: AmpBox, isError: boolean): void {
    const tagBytes = box.get(isError ? ERROR : ANSWER)!;
    const tag = parseTag(tagBytes);
    const pending = tag < 0 ? undefined : this.outstanding.get(tag);
    if (pending === undefined) {
      const text = tagBytes.latin1Slice(0, tagBytes.length);
      this.requestsActor.send({ type: 'reply', tag: text, known: false });
      this.protocolFailure(new UnknownTagError(text));
      return;
    }
    this.outstanding.delete(tag);
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    if (pending.abandoned) return;
    if (pending.onReply !== undefined) {
      pending.onReply(box, isError);
      return;
    }
    if (isError) {
      pending.reject(this.replyError(pending.command, box));
      return;
    }
    if (pending.command === undefined) {
      pending.resolve(box);
      return;
    }
    try {
      pending.resolve(pending.command.decodeResponse(box));
    } catch (error) {
      pending.reject(error as Error);
    }
  }

  private replyError(command: Command<any, any> | undefined, box: AmpBox): Error {
    const code = box.get(ERROR_CODE)?.toString('latin1') ?? UNKNOWN_ERROR_CODE;
    // Invalid UTF-8 is replaced, as Twisted decodes descriptions with errors='replace'.
    const description = box.get(ERROR_DESCRIPTION)?.toString('utf8') ?? '';
    return command === undefined ? remoteErrorFromReply(code, description) : command.errorFromReply(code, description);
  }

  private onCommand(box: AmpBox): void {
    const nameBytes = box.get(COMMAND)!;
    const name = nameBytes.latin1Slice(0, nameBytes.length);
    // Echoed verbatim in the answer, so the bytes serve as they are.
    const tag = box.get(ASK);
    const typed = this.responders.typedFor(name) ?? (name === StartTLS.name ? this.defaultStartTls : undefined);
    if (typed !== undefined) {
      this.runTyped(typed, box, tag);
      return;
    }
    const raw = this.responders.rawFor(name);
    if (raw !== undefined) {
      this.runRaw(raw, name, box, tag);
      return;
    }
    const description = `Unhandled Command: ${pythonBytesRepr(nameBytes)}`;
    if (tag === undefined) this.unhandledFailure(new UnhandledCommandError(UNHANDLED_ERROR_CODE, description));
    else this.sendAnswer(encodeErrorReply(tag, UNHANDLED_ERROR_CODE, description));
  }

  /** Twisted's default StartTLS responder: no certificate of its own (a temporary one if TLS server). */
  private readonly defaultStartTls: TypedEntry = {
    command: StartTLS,
    handler: () => new TlsAnswer(this.options.tls ?? {}),
  };

  private runTyped(entry: TypedEntry, box: AmpBox, tag: Uint8Array | undefined): void {
    let result;
    try {
      result = entry.handler(entry.command.decodeArguments(box), { box });
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

  private runRaw(handler: RawResponder, name: string, box: AmpBox, tag: Uint8Array | undefined): void {
    const answer = (fields: OutgoingBox) => {
      if (tag === undefined) return;
      const reply = new Map(fields instanceof Map ? fields : Object.entries(fields));
      reply.set(ANSWER, tag);
      this.sendAnswer(encodeBox(reply));
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

  /** A slow responder must not let requests pile up without bound: past the limit, reading pauses. */
  private awaitResponse<T>(result: PromiseLike<T>, onValue: (value: T) => void, onError: (error: unknown) => void): void {
    if (++this.inflightResponses >= this.maxConcurrentResponses) this.pauseInput('responders');
    const settle = () => {
      if (--this.inflightResponses < this.maxConcurrentResponses && this.pauses.has('responders')) this.resumeInput('responders');
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

  private respondWithValue(command: Command<any, any>, tag: Uint8Array | undefined, value: unknown): void {
    if (value instanceof TlsAnswer) {
      void this.answerStartTls(tag, value.options);
      return;
    }
    if (value instanceof ProtocolSwitchAnswer) {
      if (tag !== undefined) this.sendAnswer(encodeBox({ [ANSWER]: tag }));
      this.locked = true;
      this.switchActor.send({ type: 'responded' });
      this.requestUpgrade({ kind: 'switch', done: value.onSwitched });
      return;
    }
    if (tag === undefined) return;
    let bytes: Frame;
    try {
      bytes = command.encodeAnswerParts(tag, (value ?? {}) as never, ZERO_COPY_ABOVE);
    } catch (error) {
      if (error instanceof ValueTooLongError || error instanceof KeyTooLongError) {
        // Twisted cannot serialise the answer either: it logs and drops the connection, unanswered.
        this.unhandledFailure(error);
        return;
      }
      this.respondWithError(undefined, tag, error);
      return;
    }
    this.sendAnswer(bytes);
  }

  private async answerStartTls(tag: Uint8Array | undefined, options: TlsOptions): Promise<void> {
    if (this.tlsRequested) {
      this.respondWithError(undefined, tag, new OnlyOneTLSError());
      return;
    }
    this.tlsRequested = true;
    let tlsOptions = options;
    if (this.role === 'server' && options.cert === undefined) {
      tlsOptions = { ...options, ...(await temporaryServerCertificate()) };
    }
    if (tag !== undefined) this.sendAnswer(encodeBox({ [ANSWER]: tag }));
    this.tlsActor.send({ type: 'responded' });
    this.requestUpgrade({ kind: 'tls', options: tlsOptions, done: () => {} });
  }

  /**
   * Declared errors are sent with their code (fatal ones then close); anything else is UNKNOWN and
   * closes, as does any failure of a fire-and-forget command (spec §2.4, §2.5).
   */
  private respondWithError(command: Command<any, any> | undefined, tag: Uint8Array | undefined, error: unknown): void {
    const mapping = command?.errorMappingOf(error);
    if (tag === undefined) {
      this.unhandledFailure(error);
      return;
    }
    if (mapping !== undefined) {
      this.sendAnswer(encodeErrorReply(tag, mapping.code, error instanceof Error ? error.message : String(error)));
      if (mapping.fatal) {
        this.failure ??= error instanceof Error ? error : new AmpStateError(String(error));
        this.close();
      }
      return;
    }
    this.sendAnswer(encodeErrorReply(tag, UNKNOWN_ERROR_CODE, UNKNOWN_ERROR_DESCRIPTION));
    this.unhandledFailure(error);
  }

  /** Twisted's "unhandled error" path: log, then drop the connection gracefully. */
  private unhandledFailure(error: unknown): void {
    const reason = error instanceof Error ? error : new AmpStateError(String(error));
    this.logger.error({ err: reason }, `Unhandled Error in ${this.className}: dropping connection`);
    this.failure ??= reason;
    this.close();
  }

  /** A protocol violation by the peer: stop parsing, nothing is sent, the connection closes. */
  private protocolFailure(error: Error): void {
    this.logger.error({ err: error }, `protocol error in ${this.className}: dropping connection`);
    this.failure ??= error;
    if (!this.decoder.hasFailed) this.decoder.takeUnparsed();
    this.close();
  }

  // ---------------------------------------------------------------- flow control

  private pauseInput(reason: PauseReason): void {
    const first = this.pauses.size === 0;
    this.pauses.add(reason);
    if (!first) return;
    this.decoder.pause();
    this.transport.pause();
    this.eventsSubject.next({ type: 'paused', reason });
  }

  private resumeInput(reason: PauseReason): void {
    if (!this.pauses.delete(reason) || this.pauses.size > 0 || this.closeReason !== undefined) return;
    this.eventsSubject.next({ type: 'resumed' });
    this.parsing = true;
    this.decoder.resume();
    this.parsing = false;
    if (this.pendingUpgrade !== undefined) {
      this.performUpgrade();
      return;
    }
    if (this.pauses.size === 0) this.transport.resume();
  }

  // ---------------------------------------------------------------- StartTLS and protocol switch

  /** Stops parsing at once; the upgrade runs as soon as the current chunk has been handed back. */
  private requestUpgrade(upgrade: Upgrade): void {
    this.decoder.pause();
    this.pendingUpgrade = upgrade;
    if (!this.parsing) this.performUpgrade();
  }

  private performUpgrade(): void {
    const upgrade = this.pendingUpgrade!;
    this.pendingUpgrade = undefined;
    const raw = this.transport;
    // Stop consuming before flushing: over an in-memory pair the peer can react synchronously to our
    // flushed answer, and its first bytes of the new protocol must stay on the transport.
    raw.off('data', this.onData);
    raw.pause();
    // The plaintext answer must be on the wire before the TLS handshake starts.
    this.flushCork();
    const leftover = this.decoder.takeUnparsed();
    const buffered: Buffer | null = raw.readableLength > 0 ? raw.read() : null;
    if (buffered !== null) leftover.push(buffered);
    // Back to "no consumer yet": bytes stay buffered, and the next protocol's first 'data' listener
    // starts the flow (after an explicit pause() it would not).
    (raw as { readableFlowing: boolean | null }).readableFlowing = null;
    if (upgrade.kind === 'switch') {
      this.switched = true;
      this.connectionActor.send({ type: 'switched' });
      this.eventsSubject.next({ type: 'switched' });
      if (leftover.length > 0) raw.unshift(Buffer.concat(leftover));
      upgrade.done(raw);
      return;
    }
    this.startTlsOn(leftover.length > 0 ? new PrefixedDuplex(raw, leftover) : raw, upgrade);
  }

  private startTlsOn(socket: Duplex, upgrade: Extract<Upgrade, { kind: 'tls' }>): void {
    const { cert, key, ca, secureContext } = upgrade.options;
    const verify = ca !== undefined;
    const common = { ...secureContext, cert, key, ca: ca as tls.SecureContextOptions['ca'] };
    const secure =
      this.role === 'client'
        ? tls.connect({
            ...common,
            socket,
            rejectUnauthorized: verify,
            // Twisted checks the chain against the given authorities, never the host name.
            checkServerIdentity: () => undefined,
          })
        : new tls.TLSSocket(socket, {
            isServer: true,
            secureContext: tls.createSecureContext(common),
            requestCert: verify,
            rejectUnauthorized: verify,
          });
    this.detach(this.transport);
    this.transport = secure;
    this.secureSocket = secure;
    this.decoder = this.createDecoder();
    this.attach(secure);
    this.receivedSinceTls = 0;
    this.tlsHandshake = 'pending';
    this.connectionActor.send({ type: 'tlsStarted' });
    const queued = this.tlsQueue ?? [];
    this.tlsQueue = undefined;
    for (const bytes of queued) this.write(bytes);
    // Only the first outcome counts: with TLS 1.3 a client's handshake completes before the server
    // has checked its certificate, so a rejection arrives later as an error on an established socket.
    let handshakeSettled = false;
    secure.once(this.role === 'client' ? 'secureConnect' : 'secure', () => {
      if (handshakeSettled) return;
      handshakeSettled = true;
      this.tlsHandshake = 'done';
      this.tlsActor.send({ type: 'handshakeDone' });
      this.eventsSubject.next({ type: 'tls', peerCertificate: this.peerCertificate });
      upgrade.done();
    });
    secure.once('error', (error) => {
      if (handshakeSettled) return;
      handshakeSettled = true;
      this.tlsHandshake = 'failed';
      this.tlsActor.send({ type: 'handshakeFailed' });
      upgrade.done(error);
    });
    if (this.pauses.size === 0) secure.resume();
  }

  // ---------------------------------------------------------------- lifecycle

  private opened(): void {
    this.isOpen = true;
    this.connectionActor.send({ type: 'connected' });
    const socket = this.transport as Partial<import('node:net').Socket>;
    this.logger.info(
      `${this.className} connection established (HOST:${describeAddress(socket.address?.())} PEER:${describeAddress(
        socket.remoteAddress === undefined ? undefined : { address: socket.remoteAddress, port: socket.remotePort ?? 0, family: socket.remoteFamily ?? '' },
      )})`,
    );
    this.eventsSubject.next({ type: 'open' });
  }

  private readonly onTransportError = (error: Error): void => {
    this.failure ??= new ConnectionLostError(`connection lost: ${error.message}`, { cause: error });
  };

  private readonly onTransportClose = (): void => {
    if (this.closeReason !== undefined) return;
    let reason = this.failure ?? new ConnectionDoneError();
    if (this.failure === undefined && this.receivedSinceTls === 0) reason = new PeerVerifyError();
    this.closeReason = reason;
    this.corked = false;
    this.tlsQueue = undefined;
    this.connectionActor.send({ type: 'transportClosed', reason: reason.message });
    this.requestsActor.send({ type: 'close', reason: reason.message });
    this.logger.info({ reason: reason.message }, `${this.className} connection lost`);
    const pending = [...this.outstanding.values()];
    this.outstanding.clear();
    for (const call of pending) {
      if (call.timer !== undefined) clearTimeout(call.timer);
      if (!call.abandoned) call.reject(reason);
    }
    this.eventsSubject.next({ type: 'closed', reason });
    this.eventsSubject.complete();
    this.resolveClosed(reason);
  };
}

/**
 * The number of one of our tags (lower-case hex, no leading zero, as we write them), or -1 for
 * bytes we could never have sent.
 */
function parseTag(bytes: Buffer): number {
  const length = bytes.length;
  if (length === 0 || length > 12 || bytes[0] === 0x30) return -1;
  let value = 0;
  for (let i = 0; i < length; i++) {
    const byte = bytes[i]!;
    let digit: number;
    if (byte >= 0x30 && byte <= 0x39) digit = byte - 0x30;
    else if (byte >= 0x61 && byte <= 0x66) digit = byte - 0x57;
    else return -1;
    value = value * 16 + digit;
  }
  return value;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}
