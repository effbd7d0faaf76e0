import type { Duplex } from 'node:stream';
import { Subject, type Observable } from 'rxjs';
import { createActor, type Actor, type AnyActorLogic } from 'xstate';
import { ANSWER, type AmpBox } from '../codec/box.js';
import { encodeBox } from '../codec/encode-box.js';
import type { ArgumentsOf, Command, ResponseOf } from '../codec/command.js';
import { ConnectionLostError, OnlyOneTLSError, ProtocolSwitchedError } from '../codec/errors.js';
import { StartTLS } from '../codec/protocols/start-tls.js';
import type { ConnectionEvent } from '../machines/connection.js';
import { framingMachine } from '../machines/framing.js';
import type { InputFlowEvent } from '../machines/input-flow.js';
import type { TransportReceiver } from '../machines/protocol-switch.js';
import { BoxTransport } from './amp/box-transport.js';
import { bindDescriptors, DescriptorExchange } from './amp/descriptor-exchange.js';
import { logProtocolError, logUnhandledError } from './amp/peer-faults.js';
import {
  outgoingGate,
  refusal,
  startControlMachines,
  type ControlEffects,
  type ControlMachines,
} from './amp/control-machines.js';
import { BoxDispatcher, replyError, type CallOptions } from './amp/dispatcher.js';
import { ResponderRunner } from './amp/responder-runner.js';
import { connectionStreams } from './amp/stream-registry.js';
import { callWithStreams } from './amp/stream-sender.js';
import { tlsSettingsFor } from './amp/tls-upgrade.js';
import { describeEnds } from './describe-address.js';
import { defaultLogger, type Logger } from './logger.js';
import { inspectorFromEnvironment } from './pino-inspector.js';
import { ResponderTable } from './responders.js';
import { sendIfActive } from './send-if-active.js';
import { UnixFdSocket } from './unix-fd-socket.js';
import type { PeerCertificate, TlsOptions } from './tls-options.js';

export type { CallOptions } from './amp/dispatcher.js';
export type { AmpConnectionEvent, AmpConnectionOptions, Inspector } from './amp/connection-options.js';
import type { AmpConnectionEvent, AmpConnectionOptions } from './amp/connection-options.js';

let connectionCounter = 0;

/**
 * One AMP connection over any Duplex (TCP, TLS, pipes, an in-memory pair), with Twisted's
 * semantics exactly: tags, error codes, fatal errors, StartTLS and protocol switching.
 *
 * A thin facade over three parts, as Twisted's amp.py keeps them apart: the box transport (bytes,
 * framing, hand-over), the dispatcher (tags and outstanding calls) and the responder runner
 * (locating and running responders). The control machines decide; the parts act. The hot path
 * (boxes, calls, answers) never goes through xstate.
 */
export class AmpConnection {
  readonly id = ++connectionCounter;
  readonly logger: Logger;
  readonly responders: ResponderTable;
  readonly role: 'client' | 'server';
  /** Resolves with the close reason once the transport has closed and every pending call failed. */
  readonly closed: Promise<Error>;

  private readonly transport: BoxTransport;
  private readonly dispatcher: BoxDispatcher;
  private readonly runner: ResponderRunner;
  private readonly control: ControlMachines;
  private readonly framing: Actor<typeof framingMachine> | undefined;
  private readonly eventsSubject = new Subject<AmpConnectionEvent>();
  /** Set on a UNIX socket that passes file descriptors (docs/amp-protocol.md §3.6). */
  private readonly descriptors: DescriptorExchange | undefined;
  private readonly className: string;
  private resolveClosed!: (reason: Error) => void;
  /** The pending `startTLS()` promise; the StartTLS machine's actions settle it. */
  private tlsAsker: { resolve(certificate: PeerCertificate | undefined): void; reject(error: Error): void } | undefined;

  constructor(socket: Duplex, options: AmpConnectionOptions = {}) {
    this.responders = options.responders ?? new ResponderTable();
    this.role = options.role ?? 'client';
    this.className = options.name ?? 'AMP';
    this.logger = (options.logger ?? defaultLogger).child({ connection: this.id });
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));

    // Listening before any byte is read: a descriptor is announced before the bytes it came with.
    this.descriptors = socket instanceof UnixFdSocket ? new DescriptorExchange(socket, this.logger) : undefined;
    const inspect = options.inspect ?? inspectorFromEnvironment();
    this.control = startControlMachines(this.effects(), inspect, options.machines);
    const framing = options.traceFraming ? createActor(framingMachine, { inspect, input: { maxBoxBytes: options.maxBoxBytes } }).start() : undefined;
    this.framing = framing;
    const flow = this.control.inputFlow;
    this.transport = new BoxTransport(socket, this.role, options.maxWriteBuffer ?? 1 << 20, {
      onBox: this.onBox,
      onDecodeError: (error) => this.protocolFailure(error),
      onFramingTrace: framing === undefined ? undefined : (length) => framing.send({ type: 'string', length }),
      onWriteBufferFull: () => this.control.inputFlow.send({ type: 'writeBufferFull' }),
      onWriteBufferDrained: () => this.control.inputFlow.send({ type: 'writeBufferDrained' }),
      onSwitched: () => {
        this.toConnection({ type: 'switched' });
        this.eventsSubject.next({ type: 'switched' });
      },
      onTlsStarted: () => this.toConnection({ type: 'tlsStarted' }),
      onHandshake: (error) =>
        this.control.startTls.send(error === undefined ? { type: 'handshakeDone' } : { type: 'handshakeFailed', error }),
      onError: (cause) =>
        this.toConnection({ type: 'transportError', error: new ConnectionLostError(`connection lost: ${cause.message}`, { cause }) }),
      onClose: (peerSilentSinceTls) => this.toConnection({ type: 'transportClosed', peerSilentSinceTls }),
    }, options.maxBoxBytes);
    this.dispatcher = new BoxDispatcher(
      {
        sendRequest: (frame) => this.transport.sendRequest(frame),
        requestSink: () => this.transport.sink,
        onCommand: (box) => this.runner.run(box),
        onProtocolError: (error) => this.protocolFailure(error),
      },
      { inspect, machine: options.machines?.requests, descriptors: this.descriptors },
    );
    this.runner = new ResponderRunner(
      this.responders,
      {
        sendAnswer: (frame) => this.transport.sendAnswer(frame),
        answerSink: () => this.transport.sink,
        answerStartTls: (tag, tlsOptions) => this.answerStartTls(tag, tlsOptions),
        answerSwitch: (tag, receiver) => this.answerSwitch(tag, receiver),
        dropConnection: (reason, logged) => this.dropConnection(reason, logged),
        respondersFull: () => this.control.inputFlow.send({ type: 'respondersFull' }),
        respondersBelowLimit: () => this.control.inputFlow.send({ type: 'respondersBelowLimit' }),
        get respondersPaused() {
          return flow.getSnapshot().context.respondersFull;
        },
      },
      options.maxConcurrentResponses ?? 1024,
      options.tls ?? {},
      connectionStreams(options.streams, this.closed),
      this.descriptors,
    );
    // The transport obeys on every box what the machines decided at their last transition.
    const refreshGate = () => this.transport.setGate(outgoingGate(this.control));
    this.control.connection.subscribe(refreshGate);
    this.control.startTls.subscribe(refreshGate);
    this.control.protocolSwitch.subscribe(refreshGate);
    flow.subscribe((snapshot) => (this.transport.writeBufferFull = snapshot.context.writeBufferFull));

    if (options.connected ?? true) this.toConnection({ type: 'connected' });
    else socket.once('connect', () => this.toConnection({ type: 'connected' }));
  }

  /** Lifecycle events; completes after `closed`. */
  get events$(): Observable<AmpConnectionEvent> {
    return this.eventsSubject.asObservable();
  }

  /** The connection machine's state: connecting, open, tls, switched, closing or closed. */
  get state(): string {
    return String(this.control.connection.getSnapshot().value);
  }

  /** The control machines, for inspection and model-based tests. */
  get machines(): Readonly<Record<string, Actor<AnyActorLogic>>> {
    const { connection, startTls, protocolSwitch, inputFlow } = this.control;
    const machines: Record<string, Actor<AnyActorLogic>> = { connection, requests: this.dispatcher.machine, startTls, protocolSwitch, inputFlow };
    if (this.framing !== undefined) machines.framing = this.framing;
    return machines;
  }

  get isClosed(): boolean {
    return this.control.connection.getSnapshot().matches('closed');
  }

  get pendingCalls(): number {
    return this.dispatcher.pendingCount;
  }

  get peerCertificate(): PeerCertificate | undefined {
    return this.transport.peerCertificate;
  }

  get hostCertificate(): PeerCertificate | undefined {
    return this.transport.hostCertificate;
  }

  /**
   * Calls a typed command. Like Twisted, argument errors (missing, undeclared, oversize) throw
   * synchronously and consume a tag; a fire-and-forget command resolves once written.
   */
  callRemote<C extends Command<any, any>>(command: C, args: ArgumentsOf<C>, options?: CallOptions): Promise<ResponseOf<C>> {
    if (command.arguments.descriptorKeys.length > 0) args = bindDescriptors(command.arguments, args, this.descriptors);
    if (command.arguments.streamedKeys.length === 0) return this.dispatcher.callRemote(command, args, options);
    return this.callStreaming(command, args, options);
  }

  // A method of its own: a closure in `callRemote` would cost every call a context, streams or not.
  private callStreaming<C extends Command<any, any>>(command: C, args: ArgumentsOf<C>, options?: CallOptions): Promise<ResponseOf<C>> {
    const call = (values: ArgumentsOf<C>, callOptions?: CallOptions) => this.dispatcher.callRemote(command, values, callOptions);
    return callWithStreams(this, call, command, args, options);
  }

  /** The untyped call: resolves with the raw answer box (including `_answer`). */
  callRemoteString(
    name: string,
    fields: Readonly<Record<string, string | Uint8Array>> = {},
    options: CallOptions & { readonly requiresAnswer?: boolean } = {},
  ): Promise<AmpBox> {
    return this.dispatcher.callRemoteString(name, fields, options);
  }

  /**
   * Asks the peer to start TLS (docs/amp-protocol.md §4). Boxes sent meanwhile are held and go out
   * over TLS. Resolves with the peer's certificate once the handshake is done.
   */
  async startTLS(options: TlsOptions = {}): Promise<PeerCertificate | undefined> {
    const machine = this.control.startTls;
    // Twisted sends a second StartTLS and then raises, wedging the connection; refusing first is kinder.
    if (!machine.getSnapshot().can({ type: 'requested' })) throw refusal(machine, 'requested', new OnlyOneTLSError());
    if (this.transport.gate === 'locked') throw new ProtocolSwitchedError();
    machine.send({ type: 'requested' });
    let settings: TlsOptions;
    try {
      settings = await tlsSettingsFor(this.role, options, this.logger);
    } catch (error) {
      machine.send({ type: 'refused' });
      throw error;
    }
    return new Promise((resolve, reject) => {
      this.tlsAsker = { resolve, reject };
      const tag = this.dispatcher.nextTag();
      this.transport.sendNow(StartTLS.encodeRequest(tag.toString(16), {}));
      this.dispatcher
        .track(tag, StartTLS, {}, (box, isError) => {
          if (!isError) {
            machine.send({ type: 'answered', tls: settings });
            return;
          }
          this.tlsAsker = undefined;
          machine.send({ type: 'refused' });
          reject(replyError(StartTLS, box));
        })
        .catch(reject);
    });
  }

  /**
   * Sends a ProtocolSwitchCommand-style command (docs/amp-protocol.md §5). From now on no box can be
   * sent; on the answer the raw transport is handed over, with any bytes that followed the answer
   * put back on it. An error answer unlocks the connection and rejects.
   */
  switchProtocol<C extends Command<any, any>>(command: C, args: ArgumentsOf<C>): Promise<Duplex> {
    const machine = this.control.protocolSwitch;
    if (!machine.getSnapshot().can({ type: 'requested' })) return Promise.reject(refusal(machine, 'requested', new ProtocolSwitchedError()));
    return new Promise((resolve, reject) => {
      const tag = this.dispatcher.nextTag();
      this.transport.sendRequest(command.encodeRequest(tag.toString(16), args));
      machine.send({ type: 'requested' });
      this.dispatcher
        .track(tag, command, {}, (box, isError) => {
          if (!isError) {
            machine.send({ type: 'answered', receiver: resolve });
            return;
          }
          machine.send({ type: 'refused' });
          reject(replyError(command, box));
        })
        .catch(reject);
    });
  }

  /** Graceful close: queued bytes are flushed first; pending calls then fail with ConnectionDone. */
  close(): void {
    if (!this.isClosed) this.toConnection({ type: 'closeRequested' });
  }

  /** Hard close, like `abortConnection`: nothing more is written. */
  abort(error: Error = new ConnectionLostError('connection aborted')): void {
    if (!this.isClosed) this.toConnection({ type: 'abortRequested', error });
  }

  /** Resolves when the outgoing buffer has room again; a flood of calls should await it. */
  whenWritable(): Promise<void> {
    const reason = this.dispatcher.closeReason;
    if (reason !== undefined) return Promise.reject(reason);
    return this.transport.whenWritable(() => this.dispatcher.closeReason);
  }

  /** Twisted's repr: `<AMP at 0x…>`, with the inner protocol noted after a switch. */
  toString(): string {
    return `<${this.className}${this.state === 'switched' ? ' switched' : ''} #${this.id}>`;
  }

  /** The transport reports errors and its close even after the machine has ended; those are moot. */
  private toConnection(event: ConnectionEvent): void {
    sendIfActive(this.control.connection, event);
  }

  private readonly onBox = (box: AmpBox): void => {
    try {
      this.dispatcher.ampBoxReceived(box);
    } catch (error) {
      this.protocolFailure(error as Error);
    }
  };

  /** A responder agreed to StartTLS: answered in plaintext once our certificate is ready, then TLS. */
  private answerStartTls(tag: Uint8Array | undefined, options: TlsOptions): void {
    const machine = this.control.startTls;
    if (!machine.getSnapshot().can({ type: 'asked' })) {
      this.runner.respondWithError(undefined, tag, refusal(machine, 'asked', new OnlyOneTLSError()));
      return;
    }
    machine.send({ type: 'asked' });
    tlsSettingsFor(this.role, options, this.logger).then(
      (settings) => {
        // The connection may have ended while the certificate was made: there is nobody to answer.
        if (this.isClosed) return;
        if (tag !== undefined) this.transport.sendNow(encodeBox({ [ANSWER]: tag }));
        machine.send({ type: 'responded', tls: settings });
      },
      (error: unknown) => {
        machine.send({ type: 'answerFailed' });
        this.runner.respondWithError(undefined, tag, error);
      },
    );
  }

  /** A responder agreed to switch: the answer goes out, then the transport is handed over. */
  private answerSwitch(tag: Uint8Array | undefined, receiver: TransportReceiver): void {
    const machine = this.control.protocolSwitch;
    if (!machine.getSnapshot().can({ type: 'responded', receiver })) {
      this.runner.respondWithError(undefined, tag, refusal(machine, 'responded', new ProtocolSwitchedError()));
      return;
    }
    if (tag !== undefined) this.transport.sendAnswer(encodeBox({ [ANSWER]: tag }));
    machine.send({ type: 'responded', receiver });
  }

  /** Twisted's "unhandled error" path: log, then drop the connection gracefully. */
  private dropConnection(reason: Error, logged: boolean): void {
    // Boxes read before the close still fail one by one; the first failure is the one worth a line.
    const first = !this.control.connection.getSnapshot().matches('closing');
    if (logged && first) logUnhandledError(this.logger, this.className, reason, this.transport.current);
    this.toConnection({ type: 'failed', error: reason });
  }

  /** A protocol violation by the peer: stop parsing, nothing is sent, the connection closes. */
  private protocolFailure(error: Error): void {
    logProtocolError(this.logger, this.className, error, this.transport.current);
    this.transport.stopParsing();
    this.toConnection({ type: 'failed', error });
  }

  /** The side effects the control machines call for. */
  private effects(): ControlEffects {
    return {
      announceOpen: () => {
        this.logger.info(`${this.className} connection established (${describeEnds(this.transport.current)})`);
        this.eventsSubject.next({ type: 'open' });
      },
      endTransport: () => this.transport.end(),
      destroyTransport: () => this.transport.destroy(),
      announceClosed: (reason) => {
        this.logger.info({ reason: reason.message }, `${this.className} connection lost`);
        this.dispatcher.connectionClosed(reason);
        this.descriptors?.closeUnclaimed();
        this.tlsAsker?.reject(reason);
        this.tlsAsker = undefined;
        this.eventsSubject.next({ type: 'closed', reason });
        this.eventsSubject.complete();
        this.resolveClosed(reason);
      },
      beginHandshake: (settings) => this.transport.upgradeToTls(settings),
      announceSecure: () => {
        this.eventsSubject.next({ type: 'tls', peerCertificate: this.peerCertificate });
        this.tlsAsker?.resolve(this.peerCertificate);
        this.tlsAsker = undefined;
      },
      announceTlsFailure: (error) => {
        this.tlsAsker?.reject(error);
        this.tlsAsker = undefined;
      },
      handOver: (receiver) => this.transport.handOver(receiver),
      pauseInput: (cause: InputFlowEvent['type']) => {
        this.transport.inputPaused = true;
        this.transport.pauseInput();
        this.eventsSubject.next({ type: 'paused', reason: cause === 'respondersFull' ? 'responders' : 'write-buffer' });
      },
      resumeInput: () => {
        this.transport.inputPaused = false;
        if (this.isClosed) return;
        this.eventsSubject.next({ type: 'resumed' });
        this.transport.resumeInput();
      },
    };
  }
}

