import { assign, setup } from 'xstate';

/**
 * The table of outstanding requests (spec §2.3, §2.7, §2.8). The table itself lives in a Map keyed
 * by tag, because a machine per call would cost more than the call; this machine models what the
 * table promises: while accepting, calls are tracked and replies settle them; a reply for an unknown
 * tag is a protocol error that closes the connection; once closed, every pending call has failed
 * with the close reason and new calls fail at once.
 */
export type RequestsEvent =
  | { type: 'call'; tag: string; wantsAnswer: boolean }
  | { type: 'reply'; tag: string; known: boolean }
  | { type: 'close'; reason: string };

export const requestsMachine = setup({
  types: {
    context: {} as { closeReason: string | undefined },
    events: {} as RequestsEvent,
  },
  guards: {
    isKnownTag: ({ event }) => event.type === 'reply' && event.known,
  },
  actions: {
    recordReason: assign({
      closeReason: ({ context, event }) =>
        context.closeReason ?? (event.type === 'close' ? event.reason : 'unknown answer tag'),
    }),
  },
}).createMachine({
  id: 'requests',
  context: { closeReason: undefined },
  initial: 'accepting',
  states: {
    accepting: {
      on: {
        call: {},
        reply: [{ guard: 'isKnownTag' }, { target: 'closed', actions: 'recordReason' }],
        close: { target: 'closed', actions: 'recordReason' },
      },
    },
    closed: {
      on: {
        // Calls after the close fail immediately with the same reason; replies are ignored.
        call: {},
        reply: {},
      },
    },
  },
});
