import { assign, setup } from 'xstate';

/**
 * Whether an AMP connection reads its input (docs/amp-protocol.md §6). Two things can make it stop:
 * more bytes queued for the peer than the write limit, and more async responders in flight than
 * the concurrency limit. Reading pauses when the first of them fills and resumes only when both
 * have room again. Events come at the thresholds, never per box.
 */
export type InputFlowEvent =
  | { type: 'writeBufferFull' }
  | { type: 'writeBufferDrained' }
  | { type: 'respondersFull' }
  | { type: 'respondersBelowLimit' };

export interface InputFlowContext {
  readonly writeBufferFull: boolean;
  readonly respondersFull: boolean;
}

export const inputFlowMachine = setup({
  types: { context: {} as InputFlowContext, events: {} as InputFlowEvent },
  guards: {
    respondersStillFull: ({ context }) => context.respondersFull,
    writeBufferStillFull: ({ context }) => context.writeBufferFull,
  },
  actions: {
    // Side effects, supplied by the actor through `provide`.
    pauseInput: () => {},
    resumeInput: () => {},
  },
}).createMachine({
  id: 'inputFlow',
  context: { writeBufferFull: false, respondersFull: false },
  initial: 'reading',
  on: {
    writeBufferFull: { target: '.paused', actions: assign({ writeBufferFull: true }) },
    respondersFull: { target: '.paused', actions: assign({ respondersFull: true }) },
  },
  states: {
    reading: {},
    paused: {
      entry: 'pauseInput',
      exit: 'resumeInput',
      on: {
        writeBufferFull: { actions: assign({ writeBufferFull: true }) },
        respondersFull: { actions: assign({ respondersFull: true }) },
        writeBufferDrained: [
          { guard: 'respondersStillFull', actions: assign({ writeBufferFull: false }) },
          { target: 'reading', actions: assign({ writeBufferFull: false }) },
        ],
        respondersBelowLimit: [
          { guard: 'writeBufferStillFull', actions: assign({ respondersFull: false }) },
          { target: 'reading', actions: assign({ respondersFull: false }) },
        ],
      },
    },
  },
});
