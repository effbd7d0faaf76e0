import { assign, setup } from 'xstate';

/**
 * The life of one AMP connection, driven by control events only (never per box): the transport
 * connects, may turn into TLS or switch to another protocol, and ends exactly once.
 */
export type ConnectionEvent =
  | { type: 'connected' }
  | { type: 'tlsStarted' }
  | { type: 'switched' }
  | { type: 'closeRequested'; reason?: string }
  | { type: 'transportClosed'; reason: string };

export const connectionMachine = setup({
  types: {
    context: {} as { closeReason: string | undefined },
    events: {} as ConnectionEvent,
  },
  actions: {
    recordReason: assign({
      closeReason: ({ context, event }) =>
        context.closeReason ?? ('reason' in event ? event.reason : undefined),
    }),
  },
}).createMachine({
  id: 'connection',
  context: { closeReason: undefined },
  initial: 'connecting',
  states: {
    connecting: {
      on: {
        connected: 'open',
        closeRequested: { target: 'closing', actions: 'recordReason' },
        transportClosed: { target: 'closed', actions: 'recordReason' },
      },
    },
    open: {
      on: {
        tlsStarted: 'tls',
        switched: 'switched',
        closeRequested: { target: 'closing', actions: 'recordReason' },
        transportClosed: { target: 'closed', actions: 'recordReason' },
      },
    },
    /** Boxes now travel inside TLS; a second StartTLS is refused. */
    tls: {
      on: {
        switched: 'switched',
        closeRequested: { target: 'closing', actions: 'recordReason' },
        transportClosed: { target: 'closed', actions: 'recordReason' },
      },
    },
    /** The bytes belong to another protocol; AMP only waits for the end to fail its pending calls. */
    switched: {
      on: {
        closeRequested: { target: 'closing', actions: 'recordReason' },
        transportClosed: { target: 'closed', actions: 'recordReason' },
      },
    },
    /** Our close was asked for (graceful: queued bytes still go out first). */
    closing: {
      on: { transportClosed: { target: 'closed', actions: 'recordReason' } },
    },
    closed: { type: 'final' },
  },
});
