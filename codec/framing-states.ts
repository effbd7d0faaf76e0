/**
 * The three parse states of an AMP box stream (docs/amp-protocol.md §1.3). The integer decoder and the xstate
 * framing machine share these names; model-based tests check the two agree step by step.
 */
export const FramingState = {
  init: 0,
  key: 1,
  value: 2,
} as const;

export type FramingStateName = keyof typeof FramingState;
export type FramingStateCode = (typeof FramingState)[FramingStateName];

export const FRAMING_STATE_NAMES: readonly FramingStateName[] = ['init', 'key', 'value'];
