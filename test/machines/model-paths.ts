import { initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine, type EventObject } from 'xstate';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';

export interface ModelStep<E extends EventObject> {
  readonly event: E;
  readonly expected: string;
  /**
   * The machine's snapshot after the event, context included, for checks beyond the state. It is
   * recomputed along this very path (the graph's own snapshot may come from another path that
   * reached the same vertex, which differs in what the vertex key leaves out).
   */
  readonly snapshot: AnyMachineSnapshot;
}

/** Traversal bounds and serialisation, passed to both `getShortestPaths` and `getSimplePaths`. */
export interface ModelPathOptions {
  /** Stop exploring from a state (keeps machines with counters finite). */
  readonly stopWhen?: (snapshot: AnyMachineSnapshot) => boolean;
  /** At most this many traversal steps when building the adjacency map. */
  readonly limit?: number;
  /** What makes two snapshots the same vertex (default: value and context). */
  readonly serializeState?: (snapshot: AnyMachineSnapshot) => string;
  /** Input for machines that take one. */
  readonly input?: unknown;
  /** Overrides for the simple-path walk only (e.g. a coarser vertex); `false` skips it. */
  readonly simple?: false | Omit<ModelPathOptions, 'simple' | 'label' | 'everyTransition'>;
  /**
   * How an event is named in the test name, which is also what paths are deduplicated by. The
   * default is the type alone, so payload variants of one type collapse into one test; pass
   * {@link eventLabel} to keep them apart.
   */
  readonly label?: (event: EventObject) => string;
  /** Also a shortest path to every vertex followed by every event accepted there (self-loops included). */
  readonly everyTransition?: boolean;
}

/** An event's type followed by its payload, e.g. `block{"bytes":3}`. */
export function eventLabel(event: EventObject): string {
  const { type, ...payload } = event as EventObject & Record<string, unknown>;
  return Object.keys(payload).length === 0 ? type : `${type}${JSON.stringify(payload)}`;
}

/**
 * Every shortest path and every simple path of a machine, as event sequences with the state each
 * event must lead to. Model-based tests replay them against the real actor.
 */
export function modelPaths<E extends EventObject>(
  machine: AnyStateMachine,
  events: readonly E[] | ((snapshot: AnyMachineSnapshot) => readonly E[]),
  options: ModelPathOptions = {},
): ModelPath<E>[] {
  const seen = new Set<string>();
  const out: ModelPath<E>[] = [];
  const traversal = (bounds: Omit<ModelPathOptions, 'simple' | 'label' | 'everyTransition'>) => ({
    events: events as never,
    ...(bounds.stopWhen === undefined ? {} : { stopWhen: bounds.stopWhen }),
    ...(bounds.limit === undefined ? {} : { limit: bounds.limit }),
    ...(bounds.serializeState === undefined ? {} : { serializeState: bounds.serializeState }),
    ...(bounds.input === undefined ? {} : { input: bounds.input as never }),
  });
  const add = (path: ModelPath<E>) => {
    if (seen.has(path.name)) return;
    seen.add(path.name);
    out.push(path);
  };
  const strip = (steps: readonly { event: EventObject }[]) => steps.map((step) => step.event as E).filter((event) => event.type !== 'xstate.init');
  const shortest = getShortestPaths(machine, traversal(options)).map((path) => strip(path.steps));
  for (const sequence of shortest) add(replayPath(machine, sequence, options));
  if (options.everyTransition === true) {
    // A shortest path to every vertex, then each event the machine accepts there: this also takes
    // the transitions that lead back to the same vertex, which no shortest or simple path contains.
    for (const sequence of shortest) {
      const last = replayPath(machine, sequence, options).steps.at(-1)?.snapshot ?? initialTransition(machine, options.input as never)[0];
      if (last.status !== 'active') continue;
      for (const event of typeof events === 'function' ? events(last) : events) {
        if (last.can(event)) add(replayPath(machine, [...sequence, event], options));
      }
    }
  }
  if (options.simple !== false) {
    for (const path of getSimplePaths(machine, traversal({ ...options, ...(options.simple ?? {}) }))) {
      add(replayPath(machine, strip(path.steps), options));
    }
  }
  return out;
}

export interface ModelPath<E extends EventObject> {
  readonly name: string;
  readonly steps: ModelStep<E>[];
}

/** One path, replayed through the machine (also for paths given by hand). */
export function replayPath<E extends EventObject>(
  machine: AnyStateMachine,
  events: readonly E[],
  options: Pick<ModelPathOptions, 'input' | 'label'> = {},
): ModelPath<E> {
  const label = options.label ?? ((event: EventObject) => event.type);
  let snapshot = initialTransition(machine, options.input as never)[0] as AnyMachineSnapshot;
  const steps = events.map((event) => {
    snapshot = transition(machine, snapshot as never, event as never)[0] as AnyMachineSnapshot;
    return { event, expected: stateName(snapshot.value), snapshot };
  });
  return { name: steps.length === 0 ? '(initial)' : steps.map((step) => `${label(step.event)}→${step.expected}`).join(', '), steps };
}

/**
 * Transitions (state × event variant that the machine accepts there) that no path takes: an empty
 * list means the paths exercise every transition from every state they reach, with every variant.
 */
export function uncoveredTransitions<E extends EventObject>(
  machine: AnyStateMachine,
  events: readonly E[] | ((snapshot: AnyMachineSnapshot) => readonly E[]),
  paths: readonly { steps: readonly ModelStep<E>[] }[],
  options: Pick<ModelPathOptions, 'input' | 'label'> = {},
): string[] {
  const label = options.label ?? ((event: EventObject) => event.type);
  const initial = initialTransition(machine, options.input as never)[0] as AnyMachineSnapshot;
  const taken = new Set<string>();
  const reached: AnyMachineSnapshot[] = [initial];
  for (const path of paths) {
    let from = stateName(initial.value);
    for (const step of path.steps) {
      taken.add(`${from} --${label(step.event)}-->`);
      reached.push(step.snapshot);
      from = step.expected;
    }
  }
  const missing = new Set<string>();
  for (const snapshot of reached) {
    if (snapshot.status !== 'active') continue;
    const offered = typeof events === 'function' ? events(snapshot) : events;
    for (const event of offered) {
      const key = `${stateName(snapshot.value)} --${label(event)}-->`;
      if (snapshot.can(event) && !taken.has(key)) missing.add(key);
    }
  }
  return [...missing].sort();
}

function stateName(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Polls until `read()` equals `expected` (some transitions complete a few ticks later). `read` may
 * be asynchronous, for observations that need a round trip (a probe call).
 */
export async function eventually<T>(read: () => T | Promise<T>, expected: T, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (value !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    value = await read();
  }
  return value;
}
