import { setup } from 'xstate';

/**
 * A protocol switch on one side (spec §5). The caller locks its sending side as soon as the switch
 * request is out; the answer switches it, an error answer unlocks it again and AMP carries on.
 */
export type ProtocolSwitchEvent =
  | { type: 'requested' }
  | { type: 'answered' }
  | { type: 'refused' }
  | { type: 'responded' };

export const protocolSwitchMachine = setup({
  types: { events: {} as ProtocolSwitchEvent },
}).createMachine({
  id: 'protocolSwitch',
  initial: 'unlocked',
  states: {
    unlocked: {
      on: {
        requested: 'locked',
        // The responder locks and switches in one step, right after writing its answer.
        responded: 'switched',
      },
    },
    locked: {
      on: {
        answered: 'switched',
        refused: 'unlocked',
      },
    },
    switched: { type: 'final' },
  },
});
