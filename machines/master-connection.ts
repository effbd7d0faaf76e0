import { assign, setup } from 'xstate';

/**
 * The life of one worker's connection on the master (docs/master-worker-protocol.md §1.1): the handshake runs while
 * attaching; attached is the only state in which builds should be given to the worker; detaching
 * is our own drop in progress; detached happens exactly once, whatever the cause. Buildbot's
 * "connected but not attached" limbo is the gap this closes: a
 * failed handshake or a duplicate ends in detached, never in a half state.
 *
 * Driven by control events only (handshake done, drop asked, transport gone, keepalive missed);
 * the actor provides the side effects.
 */
export type MasterConnectionEvent =
  | { type: 'handshakeDone' }
  | { type: 'handshakeFailed'; reason: string }
  | { type: 'loseRequested'; reason: string }
  | { type: 'keepaliveMissed'; reason: string }
  | { type: 'transportClosed'; reason: string };

export const masterConnectionMachine = setup({
  types: {
    context: {} as { reason: string | undefined },
    events: {} as MasterConnectionEvent,
  },
  actions: {
    recordReason: assign({
      reason: ({ context, event }) => context.reason ?? ('reason' in event ? event.reason : undefined),
    }),
    // Provided by the actor: the keepalive runs only while attached.
    startKeepalive: () => undefined,
    stopKeepalive: () => undefined,
    // Provided by the actor: abort the transport.
    abortTransport: () => undefined,
    // Provided by the actor: disconnect subscribers, pending commands, the registry.
    announceDetached: () => undefined,
  },
}).createMachine({
  id: 'masterConnection',
  context: { reason: undefined },
  initial: 'attaching',
  states: {
    /** Login accepted; print "attached", worker info, settings and builder list are under way. */
    attaching: {
      on: {
        handshakeDone: 'attached',
        handshakeFailed: { target: 'detaching', actions: ['recordReason', 'abortTransport'] },
        loseRequested: { target: 'detaching', actions: ['recordReason', 'abortTransport'] },
        transportClosed: { target: 'detached', actions: 'recordReason' },
      },
    },
    attached: {
      entry: 'startKeepalive',
      exit: 'stopKeepalive',
      on: {
        loseRequested: { target: 'detaching', actions: ['recordReason', 'abortTransport'] },
        keepaliveMissed: { target: 'detaching', actions: ['recordReason', 'abortTransport'] },
        transportClosed: { target: 'detached', actions: 'recordReason' },
      },
    },
    /** We aborted the transport; its close is what makes us detached. */
    detaching: {
      on: { transportClosed: { target: 'detached', actions: 'recordReason' } },
    },
    detached: { type: 'final', entry: 'announceDetached' },
  },
});
