import type { Actor, AnyActorLogic, EventFromLogic } from 'xstate';

/**
 * Sends a control event unless the machine already reached a final state (a worker that crashed
 * mid-Run still gets its Run closed by the normal path; the machine has nothing more to learn).
 */
export function control<L extends AnyActorLogic>(actor: Actor<L>, event: EventFromLogic<L>): void {
  if ((actor.getSnapshot() as { status?: string }).status === 'active') actor.send(event);
}
