import type { Duplex } from 'node:stream';
import { setup } from 'xstate';

/**
 * A protocol switch on one side (docs/amp-protocol.md §5). The caller locks its sending side as
 * soon as the switch request is out; the answer hands the transport over, an error answer unlocks
 * it again and AMP carries on. The responder hands over right after writing its answer. While
 * locked or switched, no box can be sent; the actor asks `can()` before it starts a switch.
 */
export type ProtocolSwitchEvent =
  | { type: 'requested' }
  | { type: 'answered'; receiver: TransportReceiver }
  | { type: 'refused' }
  | { type: 'responded'; receiver: TransportReceiver };

/** Who gets the raw transport, with any bytes that followed the answer put back on it. */
export type TransportReceiver = (transport: Duplex) => void;

export const protocolSwitchMachine = setup({
  types: { events: {} as ProtocolSwitchEvent },
  actions: {
    // Side effect, supplied by the actor through `provide`: give the raw transport away.
    handOver: () => {},
  },
}).createMachine({
  id: 'protocolSwitch',
  initial: 'unlocked',
  states: {
    unlocked: {
      on: {
        requested: 'locked',
        responded: { target: 'switched', actions: 'handOver' },
      },
    },
    locked: {
      on: {
        answered: { target: 'switched', actions: 'handOver' },
        refused: 'unlocked',
      },
    },
    switched: { type: 'final' },
  },
});
