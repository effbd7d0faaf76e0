import type { Actor, AnyActorLogic, EventFromLogic } from 'xstate';

/**
 * Sends a control event unless the machine already reached its final state. Late events are
 * normal at the edges of a protocol (a disconnect after the command completed, a transport close
 * after we dropped the worker): the machine has nothing more to learn from them, and xstate would
 * warn about each.
 */
export function sendIfActive<L extends AnyActorLogic>(actor: Actor<L>, event: EventFromLogic<L>): void {
  if ((actor.getSnapshot() as { status?: string }).status === 'active') actor.send(event);
}
