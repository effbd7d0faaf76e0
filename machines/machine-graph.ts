import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';

/**
 * A machine definition as a graph of states and labelled edges, read from xstate's own definition
 * objects (`machine.root`, `StateNode.transitions`, `.always`, `.invoke`) rather than from the raw
 * config, so every kind of transition xstate knows about is seen the way xstate resolved it.
 * Both export formats (Mermaid and JSON) are drawn from this one graph.
 */
export interface MachineGraph {
  readonly id: string;
  /** The top-level state the machine starts in (undefined for a parallel or atomic root). */
  readonly initial: string | undefined;
  /** Every state below the machine's root, in document order. */
  readonly states: readonly GraphState[];
  readonly edges: readonly GraphEdge[];
}

export interface GraphState {
  /** xstate's state id: `machine.path.to.state`, or the config's own `id`. */
  readonly id: string;
  readonly key: string;
  /** The enclosing state's id; undefined for top-level states. */
  readonly parent: string | undefined;
  readonly type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** For a compound state, the child entered when the state itself is the target. */
  readonly initial: string | undefined;
}

/** What triggers a transition. */
export type GraphEdgeKind = 'event' | 'always' | 'after' | 'actorDone' | 'actorError' | 'actorSnapshot' | 'stateDone';

export interface GraphEdge {
  readonly source: string;
  /** Empty for a targetless transition (it only runs actions and changes no state). */
  readonly targets: readonly string[];
  readonly kind: GraphEdgeKind;
  /** xstate's event descriptor (`stop`, `xstate.after.5000.<state id>`, …); empty for `always`. */
  readonly event: string;
  readonly guard: string | undefined;
  /** `event`, `event [guard]`, `event [else]`, `always [guard]`, `after 5000ms`, `done: <src>`, … */
  readonly label: string;
  /**
   * Set when the edge is drawn from a state below the one whose definition holds it: a transition
   * of the machine itself is drawn from each top-level state it applies to.
   */
  readonly definedOn: string | undefined;
}

// xstate's NULL_EVENT: the descriptor of `always` transitions.
const ALWAYS = '';

export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const root = machine.root;
  const nodes = descendants(root);
  const states = nodes.map(
    (node): GraphState => ({
      id: node.id,
      key: node.key,
      parent: node.parent === root ? undefined : node.parent?.id,
      type: node.type,
      initial: node.type === 'compound' ? node.initial.target[0]?.id : undefined,
    }),
  );
  const edges: GraphEdge[] = [];
  for (const node of [root, ...nodes]) {
    for (const [event, transitions] of ownTransitions(node)) {
      transitions.forEach((transition, index) => {
        const guard = guardName(transition.guard);
        // An unguarded candidate after guarded ones only runs when all of those guards fail.
        const isElse = guard === undefined && transitions.slice(0, index).some((earlier) => earlier.guard !== undefined);
        const { kind, trigger } = classify(node, event, transition);
        const label = trigger + (guard !== undefined ? ` [${guard}]` : isElse ? ' [else]' : '');
        const targets = (transition.target ?? []).map((target: AnyStateNode) => target.id);
        const sources = node === root ? statesInheriting(root, event) : [node];
        for (const source of sources) {
          edges.push({ source: source.id, targets, kind, event, guard, label, definedOn: source === node ? undefined : node.id });
        }
      });
    }
  }
  return { id: root.id, initial: root.type === 'compound' ? root.initial.target[0]?.id : undefined, states, edges };
}

/** A node's transitions by descriptor: `on`, `onDone`, invoked actors' `onDone`/`onError`, `after`, then `always`. */
function ownTransitions(node: AnyStateNode): Array<[string, readonly AnyTransitionDefinition[]]> {
  const entries: Array<[string, readonly AnyTransitionDefinition[]]> = [...node.transitions];
  if (node.always !== undefined && node.always.length > 0) entries.push([ALWAYS, node.always]);
  return entries;
}

function descendants(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states).flatMap((child) => [child, ...descendants(child)]);
}

/**
 * The machine has no box of its own in a diagram, so its transitions are drawn from the states they
 * apply to. xstate looks for a handler from the active atomic state upwards, so a root transition
 * applies in every state except where a state below handles the same descriptor unconditionally
 * (guarded handlers may fall through to it). Top-level final states are skipped: the machine has
 * stopped there. Wildcard descriptors are compared literally.
 */
function statesInheriting(root: AnyStateNode, event: string): AnyStateNode[] {
  const sources: AnyStateNode[] = [];
  const visit = (parent: AnyStateNode): void => {
    for (const child of Object.values(parent.states)) {
      if (parent === root && child.type === 'final') continue;
      if (handlesUnconditionally(child, event)) continue;
      if (descendants(child).some((each) => handlesUnconditionally(each, event))) visit(child);
      else sources.push(child);
    }
  };
  visit(root);
  return sources;
}

function handlesUnconditionally(node: AnyStateNode, event: string): boolean {
  const transitions = event === ALWAYS ? (node.always ?? []) : (node.transitions.get(event) ?? []);
  return transitions.some((transition) => transition.guard === undefined);
}

function classify(node: AnyStateNode, event: string, transition: AnyTransitionDefinition): { kind: GraphEdgeKind; trigger: string } {
  if (event === ALWAYS) return { kind: 'always', trigger: 'always' };
  if ('delay' in transition) {
    const delay: unknown = transition.delay;
    return { kind: 'after', trigger: `after ${typeof delay === 'number' ? `${delay}ms` : String(delay)}` };
  }
  if (event === `xstate.done.state.${node.id}`) return { kind: 'stateDone', trigger: 'onDone' };
  for (const invoked of node.invoke) {
    // Inline logic gets a generated src name; its invoke id is what the author wrote.
    const name = typeof invoked.src === 'string' && !invoked.src.startsWith('xstate.invoke.') ? invoked.src : invoked.id;
    if (event === `xstate.done.actor.${invoked.id}`) return { kind: 'actorDone', trigger: `done: ${name}` };
    if (event === `xstate.error.actor.${invoked.id}`) return { kind: 'actorError', trigger: `error: ${name}` };
    if (event === `xstate.snapshot.${invoked.id}`) return { kind: 'actorSnapshot', trigger: `snapshot: ${name}` };
  }
  return { kind: 'event', trigger: event };
}

/** A guard's name as written: a named guard, `!a`, `a && b`, `a || b`, `in <state>`, or `inline`. */
function guardName(guard: unknown): string | undefined {
  if (guard === undefined) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    // xstate's guard combinators are functions named after themselves that keep their operands.
    const operands = (guard as { guards?: unknown[] }).guards?.map((each) => parenthesized(guardName(each) ?? 'inline'));
    if (guard.name === 'not' && operands?.length === 1) return `!${operands[0]}`;
    if (guard.name === 'and' && operands !== undefined) return operands.join(' && ');
    if (guard.name === 'or' && operands !== undefined) return operands.join(' || ');
    if ('stateValue' in guard) return `in ${JSON.stringify(guard.stateValue)}`;
    return guard.name === '' ? 'inline' : guard.name;
  }
  if (typeof guard === 'object' && guard !== null && 'type' in guard && typeof guard.type === 'string') return guard.type;
  return 'inline';
}

function parenthesized(name: string): string {
  return name.includes(' ') ? `(${name})` : name;
}
