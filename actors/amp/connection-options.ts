import type { InspectionEvent, Observer } from 'xstate';
import type { Logger } from '../logger.js';
import type { ResponderTable } from '../responders.js';
import type { PeerCertificate, TlsOptions } from '../tls-options.js';
import type { ControlMachineLogic } from './control-machines.js';
import type { StreamRegistry } from './stream-registry.js';

export type Inspector = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

export interface AmpConnectionOptions {
  readonly responders?: ResponderTable;
  readonly logger?: Logger;
  /** The class name in log lines, as Twisted logs `<ClassName> connection established`. */
  readonly name?: string;
  /** Our TCP role. The TLS role follows it, whoever asks for StartTLS (Twisted ticket #5690). */
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
  /**
   * The most bytes a received box may take (docs/amp-protocol.md §1.4); past it the connection
   * closes with BoxTooLargeError. Default 16 MiB + 64 KiB.
   */
  readonly maxBoxBytes?: number;
  /** Accept ByteStream arguments (docs/amp-protocol.md §3.7): true for a registry of this connection's own. Default false. */
  readonly streams?: StreamRegistry | boolean;
  /** Set when the transport is already connected (the default); false waits for `connect`. */
  readonly connected?: boolean;
  /**
   * Other definitions of the control machines (same events and actions), for tests.
   * @internal
   */
  readonly machines?: ControlMachineLogic;
}

export type AmpConnectionEvent =
  | { readonly type: 'open' }
  | { readonly type: 'tls'; readonly peerCertificate: PeerCertificate | undefined }
  | { readonly type: 'switched' }
  | { readonly type: 'paused'; readonly reason: 'write-buffer' | 'responders' }
  | { readonly type: 'resumed' }
  | { readonly type: 'closed'; readonly reason: Error };
