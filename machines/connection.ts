import { assign, setup } from 'xstate';
import { ConnectionDoneError, PeerVerifyError } from '../codec/errors.js';

/**
 * The life of one AMP connection, driven by control events only (never per box): the transport
 * connects, may turn into TLS or switch to another protocol, and ends exactly once.
 *
 * The machine decides how it ends. A close asked for twice is one close; an abort during a
 * graceful close still tears the transport down; the first failure reported (a protocol error, a
 * fatal responder error, a transport error) is the reason every pending call fails with, and a
 * transport that closes before the peer said anything over TLS means the peer refused our
 * certificate (docs/amp-protocol.md §4).
 */
export type ConnectionEvent =
  | { type: 'connected' }
  | { type: 'tlsStarted' }
  | { type: 'switched' }
  | { type: 'closeRequested' }
  | { type: 'abortRequested'; error: Error }
  | { type: 'failed'; error: Error }
  | { type: 'transportError'; error: Error }
  | { type: 'transportClosed'; peerSilentSinceTls: boolean };

export interface ConnectionContext {
  /** The first failure reported; it outranks the transport's own reason. */
  readonly failure: Error | undefined;
  /** Set once, on entering `closed`. */
  readonly closeReason: Error | undefined;
}

/** How a live connection (any state but `closing` and `closed`) ends. */
const endings = {
  closeRequested: { target: 'closing', actions: 'endTransport' },
  failed: { target: 'closing', actions: ['recordFailure', 'endTransport'] },
  abortRequested: { target: 'closing', actions: ['recordFailure', 'destroyTransport'] },
  transportError: { actions: 'recordFailure' },
  transportClosed: { target: 'closed', actions: 'settleReason' },
} as const;

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
  },
  actions: {
    recordFailure: assign({
      failure: ({ context, event }) => context.failure ?? ('error' in event ? event.error : undefined),
    }),
    settleReason: assign({
      closeReason: ({ context, event }) =>
        context.failure ??
        (event.type === 'transportClosed' && event.peerSilentSinceTls ? new PeerVerifyError() : new ConnectionDoneError()),
    }),
    // Side effects, supplied by the actor through `provide`.
    announceOpen: () => {},
    endTransport: () => {},
    destroyTransport: () => {},
    announceClosed: () => {},
  },
}).createMachine({
  id: 'connection',
  context: { failure: undefined, closeReason: undefined },
  initial: 'connecting',
  states: {
    connecting: {
      on: { ...endings, connected: { target: 'open', actions: 'announceOpen' } },
    },
    open: {
      on: { ...endings, tlsStarted: 'tls', switched: 'switched' },
    },
    /** Boxes now travel inside TLS. */
    tls: {
      on: { ...endings, switched: 'switched' },
    },
    /** The bytes belong to another protocol; AMP only waits for the end to fail its pending calls. */
    switched: {
      on: endings,
    },
    /** Our close was asked for (graceful: queued bytes still go out first); asking again changes nothing. */
    closing: {
      on: {
        failed: { actions: 'recordFailure' },
        abortRequested: { actions: ['recordFailure', 'destroyTransport'] },
        transportError: { actions: 'recordFailure' },
        transportClosed: { target: 'closed', actions: 'settleReason' },
      },
    },
    closed: { type: 'final', entry: 'announceClosed' },
  },
});
