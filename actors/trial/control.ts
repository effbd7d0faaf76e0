import type { Actor, AnyActorLogic, EventFromLogic, EventObject } from 'xstate';
import type { Logger } from '../logger.js';

/** A control event the machine could not take in its current state. */
export interface DroppedControlEvent {
  /** The machine's id (`trialWorkerPool`, `trialRun`). */
  readonly machine: string;
  /** Its state value when the event arrived (final states included). */
  readonly state: unknown;
  readonly event: EventObject;
}

/** Where dropped control events go besides the debug log; model tests collect them and expect none. */
export type DroppedEventHandler = (dropped: DroppedControlEvent) => void;

export interface ControlSink {
  readonly logger: Logger;
  readonly onDropped?: DroppedEventHandler;
}

/**
 * Sends a control event when the machine can take it. Actors consult the snapshot before sending an
 * event that may legitimately not apply, so one that still cannot be taken means actor and machine
 * disagree: xstate would ignore it silently, here it is logged at debug and handed to `onDropped`.
 * Returns whether the machine took it.
 */
export function control<L extends AnyActorLogic>(actor: Actor<L>, event: EventFromLogic<L>, sink: ControlSink): boolean {
  const snapshot = actor.getSnapshot() as { status?: string; value?: unknown; can?: (event: EventObject) => boolean };
  if (snapshot.status === 'active' && snapshot.can?.(event) !== false) {
    actor.send(event);
    return true;
  }
  const dropped: DroppedControlEvent = { machine: (actor.logic as { id?: string }).id ?? actor.id, state: snapshot.value, event };
  sink.logger.debug(dropped, 'control event dropped: the machine cannot take it in this state');
  sink.onDropped?.(dropped);
  return false;
}
