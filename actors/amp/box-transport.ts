import type { Duplex } from 'node:stream';
import type * as tls from 'node:tls';
import { DEFAULT_MAX_BOX_BYTES, type AmpBox } from '../../codec/box.js';
import type { FrameSink } from '../../codec/encode-box.js';
import { BoxDecoder, type FramingError } from '../../codec/box-decoder.js';
import { ConnectionDoneError, KeyTooLongError, ProtocolSwitchedError } from '../../codec/errors.js';
import type { TransportReceiver } from '../../machines/protocol-switch.js';
import { PrefixedDuplex } from '../prefixed-duplex.js';
import { registerSlabReader } from '../read-slab.js';
import { pinSlabOf } from '../../codec/slab-leases.js';
import type { TlsOptions } from '../tls-options.js';
import type { Frame } from './frame.js';
import { onHandshakeOutcome, wrapInTls, type TlsRole } from './tls-upgrade.js';
import { WriteBatch } from './write-batch.js';

/**
 * What an outgoing box meets. The connection's control machines decide it (AmpConnection sets it
 * from their transitions); the transport only obeys it on every box.
 * - open: written now;
 * - held: kept until the TLS handshake is done (StartTLS in progress, or for good once refused);
 * - locked: a protocol switch is under way or done: requests throw, answers are dropped;
 * - closed: the connection is closing or closed: nothing more is written.
 */
export type OutgoingGate = 'open' | 'held' | 'locked' | 'closed';

export interface BoxTransportEvents {
  onBox(box: AmpBox): void;
  onDecodeError(error: FramingError): void;
  onFramingTrace?: ((length: number) => void) | undefined;
  onWriteBufferFull(): void;
  onWriteBufferDrained(): void;
  onSwitched(): void;
  onTlsStarted(): void;
  onHandshake(error: Error | undefined): void;
  onError(error: Error): void;
  onClose(peerSilentSinceTls: boolean): void;
}

type Upgrade =
  | { readonly kind: 'tls'; readonly options: TlsOptions }
  | { readonly kind: 'switch'; readonly receiver: TransportReceiver };

/**
 * The byte side of an AMP connection, as Twisted's BinaryBoxProtocol: framing in and out, batching,
 * write backpressure, and handing the raw transport over to TLS or to another protocol.
 */
export class BoxTransport {
  /** Set only from the control machines' transitions, through `setGate` (see AmpConnection). */
  private gateState: OutgoingGate = 'open';
  /** Caches of the inputFlow machine's state, set only from its transitions. */
  inputPaused = false;
  writeBufferFull = false;

  private socket: Duplex;
  private decoder: BoxDecoder;
  private secureSocket: tls.TLSSocket | undefined;
  private readonly held: Frame[] = [];
  /** Boxes written in one tick leave together, in one write (see WriteBatch). */
  private readonly batch: WriteBatch;
  /** True while a chunk is being parsed: an upgrade asked for then waits for the chunk to end. */
  private parsing = false;
  private pendingUpgrade: Upgrade | undefined;
  /** Bytes received since TLS started: a close before any means the peer refused our certificate. */
  private receivedSinceTls = -1;
  /** Unregisters the decoder as a reader of the socket's slabs (see registerSlabReader). */
  private unregisterReader: () => void = () => {};

  constructor(
    socket: Duplex,
    private readonly role: TlsRole,
    private readonly maxWriteBuffer: number,
    private readonly events: BoxTransportEvents,
    private readonly maxBoxBytes = DEFAULT_MAX_BOX_BYTES,
  ) {
    this.socket = socket;
    this.batch = new WriteBatch(socket, this.checkWriteBuffer);
    this.decoder = this.createDecoder();
    this.attach(socket);
  }

  get gate(): OutgoingGate {
    return this.gateState;
  }

  /** The socket as it is now (TLS after a StartTLS). */
  get current(): Duplex {
    return this.socket;
  }

  get peerCertificate(): tls.PeerCertificate | undefined {
    const certificate = this.secureSocket?.getPeerCertificate();
    return certificate === undefined || Object.keys(certificate).length === 0 ? undefined : certificate;
  }

  get hostCertificate(): tls.PeerCertificate | undefined {
    const certificate = this.secureSocket?.getCertificate();
    return certificate === null || certificate === undefined || Object.keys(certificate).length === 0
      ? undefined
      : (certificate as tls.PeerCertificate);
  }

  /** The machines decided what outgoing boxes meet; once open again, what was held goes out. */
  setGate(gate: OutgoingGate): void {
    this.gateState = gate;
    if (gate === 'open' && this.held.length > 0) this.releaseHeld();
  }

  /** A request: refused synchronously once locked, as Twisted raises; dropped once closing. */
  sendRequest(frame: Frame): void {
    const gate = this.gateState;
    if (gate === 'open') this.write(frame);
    else if (gate === 'held') this.held.push(frame);
    else if (gate === 'locked') throw new ProtocolSwitchedError();
  }

  /** An answer: dropped silently after a close or during a switch, as Twisted does. */
  sendAnswer(frame: Frame): void {
    const gate = this.gateState;
    if (gate === 'open') this.write(frame);
    else if (gate === 'held') this.held.push(frame);
  }

  /** Past the gate: the StartTLS request and answer themselves go out in plaintext. */
  sendNow(frame: Frame): void {
    if (!this.socket.writableEnded && !this.socket.destroyed) this.write(frame);
  }

  private releaseHeld(): void {
    const frames = this.held.splice(0);
    for (const frame of frames) this.write(frame);
  }

  /** Graceful close: queued bytes are flushed first. */
  end(): void {
    this.uncork();
    const socket = this.socket;
    socket.end();
    socket.once('finish', () => socket.destroy());
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** A protocol violation: stop parsing for good; nothing more is read. */
  stopParsing(): void {
    if (!this.decoder.hasFailed) this.decoder.takeUnparsed();
  }

  pauseInput(): void {
    this.decoder.pause();
    this.socket.pause();
  }

  resumeInput(): void {
    this.parsing = true;
    this.decoder.resume();
    this.parsing = false;
    if (this.pendingUpgrade !== undefined) this.performUpgrade();
    else if (!this.inputPaused) this.socket.resume();
  }

  /** Resolves when the outgoing buffer has room again. */
  whenWritable(closeReason: () => Error | undefined): Promise<void> {
    const socket = this.socket;
    if (!socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        socket.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        socket.off('drain', onDrain);
        reject(closeReason() ?? new ConnectionDoneError());
      };
      socket.once('drain', onDrain);
      socket.once('close', onClose);
    });
  }

  /** Stops parsing at once; the upgrade runs as soon as the current chunk has been handed back. */
  upgradeToTls(options: TlsOptions): void {
    this.requestUpgrade({ kind: 'tls', options });
  }

  handOver(receiver: TransportReceiver): void {
    this.requestUpgrade({ kind: 'switch', receiver });
  }

  private requestUpgrade(upgrade: Upgrade): void {
    this.decoder.pause();
    this.pendingUpgrade = upgrade;
    if (!this.parsing) this.performUpgrade();
  }

  private performUpgrade(): void {
    const upgrade = this.pendingUpgrade!;
    this.pendingUpgrade = undefined;
    const raw = this.socket;
    // Stop consuming before flushing: over an in-memory pair the peer can react synchronously to our
    // flushed answer, and its first bytes of the new protocol must stay on the transport.
    raw.off('data', this.onData);
    this.unregisterReader();
    raw.pause();
    // The plaintext answer must be on the wire before the TLS handshake starts.
    this.uncork();
    const leftover = this.decoder.takeUnparsed();
    const buffered: Buffer | null = raw.readableLength > 0 ? raw.read() : null;
    if (buffered !== null) {
      // The next protocol may keep it (takeUnparsed pins the decoder's own the same way).
      pinSlabOf(buffered);
      leftover.push(buffered);
    }
    // Back to "no consumer yet": bytes stay buffered, and the next protocol's first 'data' listener
    // starts the flow (after an explicit pause() it would not).
    (raw as { readableFlowing: boolean | null }).readableFlowing = null;
    if (upgrade.kind === 'switch') {
      this.events.onSwitched();
      if (leftover.length > 0) raw.unshift(Buffer.concat(leftover));
      upgrade.receiver(raw);
      return;
    }
    this.startTlsOn(leftover.length > 0 ? new PrefixedDuplex(raw, leftover) : raw, upgrade.options);
  }

  private startTlsOn(socket: Duplex, options: TlsOptions): void {
    const secure = wrapInTls(socket, this.role, options);
    this.detach(this.socket);
    this.socket = secure;
    this.batch.retarget(secure);
    this.secureSocket = secure;
    this.decoder = this.createDecoder();
    this.attach(secure);
    this.receivedSinceTls = 0;
    this.events.onTlsStarted();
    onHandshakeOutcome(secure, this.role, (error) => this.events.onHandshake(error));
    if (!this.inputPaused) secure.resume();
  }

  /**
   * Where boxes may be encoded in place while the gate is open (every box then goes out now);
   * undefined otherwise, and boxes come as frames through `sendRequest`/`sendAnswer`.
   */
  get sink(): FrameSink | undefined {
    return this.gateState === 'open' ? this.batch : undefined;
  }

  /** Boxes written in one tick leave in one write: pipelined calls cost one syscall, not one each. */
  private write(frame: Frame): void {
    this.batch.add(frame);
  }

  private readonly checkWriteBuffer = (): void => {
    if (this.writeBufferFull) return;
    const socket = this.socket;
    if (socket.writableLength + this.batch.pending > this.maxWriteBuffer) {
      // The socket must hold the bytes for its 'drain' to tell when they have left.
      this.batch.flush();
      socket.once('drain', () => this.events.onWriteBufferDrained());
      this.events.onWriteBufferFull();
    }
  };

  private uncork(): void {
    this.batch.flush();
  }

  private createDecoder(): BoxDecoder {
    const trace = this.events.onFramingTrace;
    return new BoxDecoder(
      {
        onBox: this.onBox,
        onError: (error) => {
          // The trace machine fails on the same string the decoder stopped at.
          trace?.(error instanceof KeyTooLongError ? error.keyLength : error.stringLength);
          this.events.onDecodeError(error);
        },
        onTrace: trace === undefined ? undefined : (framing) => trace(framing.length),
      },
      this.maxBoxBytes,
    );
  }

  private attach(socket: Duplex): void {
    socket.on('data', this.onData);
    this.unregisterReader = registerSlabReader(socket, this.slabReader);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private detach(socket: Duplex): void {
    socket.off('data', this.onData);
    this.unregisterReader();
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
  }

  private readonly onBox = (box: AmpBox): void => this.events.onBox(box);

  /** What the socket's slab reader asks before reading into a slab again: the decoder of the moment. */
  private readonly slabReader = { holds: (memory: ArrayBufferLike) => this.decoder.holds(memory) };

  private readonly onData = (chunk: Buffer): void => {
    if (this.receivedSinceTls >= 0) this.receivedSinceTls += chunk.length;
    this.parsing = true;
    this.decoder.push(chunk);
    this.parsing = false;
    if (this.pendingUpgrade !== undefined) this.performUpgrade();
  };

  private readonly onError = (error: Error): void => this.events.onError(error);

  private readonly onClose = (): void => {
    this.batch.discard();
    this.held.length = 0;
    this.events.onClose(this.receivedSinceTls === 0);
  };
}
