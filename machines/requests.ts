import { assign, setup } from 'xstate';

/**
 * The table of outstanding calls, at control granularity (docs/amp-protocol.md §2.3, §2.7, §2.8).
 * The table itself is a Map keyed by tag, because a machine event per call would cost more than
 * the call; this machine hears only when the table becomes non-empty or empty, when a reply names a
 * tag that is not in it, and when the connection closes.
 *
 * It decides: an unknown tag drops the connection (nothing is matched after it); a close with calls outstanding fails them all
 * with the close reason; once closed, new calls fail at once.
 */
export type RequestsEvent =
  | { type: 'nonEmpty' }
  | { type: 'empty' }
  | { type: 'unknownTag'; tag: string }
  | { type: 'close'; reason: Error };

export const requestsMachine = setup({
  types: {
    context: {} as { closeReason: Error | undefined },
    events: {} as RequestsEvent,
  },
  actions: {
    recordReason: assign({
      closeReason: ({ context, event }) => context.closeReason ?? (event.type === 'close' ? event.reason : undefined),
    }),
    // Side effects, supplied by the dispatcher through `provide`.
    dropConnection: () => {},
    failAll: () => {},
    refuseNewCalls: () => {},
  },
}).createMachine({
  id: 'requests',
  context: { closeReason: undefined },
  initial: 'idle',
  states: {
    idle: {
      on: {
        nonEmpty: 'awaiting',
        unknownTag: 'dropping',
        close: { target: 'closed', actions: 'recordReason' },
      },
    },
    awaiting: {
      on: {
        empty: 'idle',
        unknownTag: 'dropping',
        close: { target: 'failingAll', actions: 'recordReason' },
      },
    },
    /** A reply named a tag we never sent: the connection is being dropped; calls fail when it ends. */
    dropping: {
      entry: 'dropConnection',
      on: { close: { target: 'failingAll', actions: 'recordReason' } },
    },
    /** Every outstanding call fails with the close reason, then the table stays closed. */
    failingAll: {
      entry: 'failAll',
      always: 'closed',
    },
    closed: { type: 'final', entry: 'refuseNewCalls' },
  },
});
