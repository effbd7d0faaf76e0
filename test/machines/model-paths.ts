import type { AnyStateMachine, EventObject } from 'xstate';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';

export interface ModelStep<E extends EventObject> {
  readonly event: E;
  readonly expected: string;
}

/**
 * Every shortest path and every simple path of a machine, as event sequences with the state each
 * event must lead to. Model-based tests replay them against the real actor.
 */
export function modelPaths<E extends EventObject>(
  machine: AnyStateMachine,
  events: readonly E[],
): { name: string; steps: ModelStep<E>[] }[] {
  const seen = new Set<string>();
  const out: { name: string; steps: ModelStep<E>[] }[] = [];
  const all = [
    ...getShortestPaths(machine, { events: events as unknown as EventObject[] }),
    ...getSimplePaths(machine, { events: events as unknown as EventObject[] }),
  ];
  for (const path of all) {
    const steps = path.steps
      .filter((step) => step.event.type !== 'xstate.init')
      .map((step) => ({ event: step.event as E, expected: stateName(step.state.value) }));
    const name = steps.length === 0 ? '(initial)' : steps.map((step) => `${step.event.type}→${step.expected}`).join(', ');
    if (seen.has(name)) continue;
    seen.add(name);
    out.push({ name, steps });
  }
  return out;
}

function stateName(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Polls until `read()` equals `expected` (some transitions complete a few ticks later). */
export async function eventually<T>(read: () => T, expected: T, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = read();
  while (value !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    value = read();
  }
  return value;
}
