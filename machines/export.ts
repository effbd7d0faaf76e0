import type { AnyStateMachine } from 'xstate';

/** The parts of xstate's StateNode that a diagram needs (its public shape, typed loosely on purpose). */
interface NodeView {
  readonly id: string;
  readonly key: string;
  readonly type: string;
  readonly states: Readonly<Record<string, NodeView>>;
  readonly initial?: { readonly target?: readonly NodeView[] };
  readonly transitions: ReadonlyMap<string, readonly TransitionView[]>;
}

interface TransitionView {
  readonly eventType: string;
  readonly target?: readonly NodeView[];
  readonly guard?: string | { readonly type?: string };
}

/**
 * A Mermaid `stateDiagram-v2` drawn from the machine definition itself, so documentation cannot
 * drift from the code (a test compares the README's diagrams with this output).
 */
export function toMermaid(machine: AnyStateMachine): string {
  const lines = ['stateDiagram-v2'];
  renderChildren(machine.root as unknown as NodeView, lines, '  ');
  return lines.join('\n') + '\n';
}

function name(node: NodeView): string {
  return node.id.replace(/[^A-Za-z0-9_]/g, '_');
}

function renderChildren(parent: NodeView, lines: string[], indent: string): void {
  const children = Object.values(parent.states);
  const initial = parent.initial?.target?.[0];
  if (initial !== undefined) lines.push(`${indent}[*] --> ${name(initial)}`);
  for (const child of children) {
    if (child.type === 'compound' || child.type === 'parallel') {
      lines.push(`${indent}state "${child.key}" as ${name(child)} {`);
      renderChildren(child, lines, indent + '  ');
      lines.push(`${indent}}`);
    } else {
      lines.push(`${indent}state "${child.key}" as ${name(child)}`);
    }
  }
  for (const child of children) {
    for (const [eventType, transitions] of child.transitions) {
      for (const transition of transitions) {
        const targets = transition.target ?? [];
        const guard = typeof transition.guard === 'string' ? transition.guard : transition.guard?.type;
        const label = guard === undefined ? eventType : `${eventType} [${guard}]`;
        // A targetless transition only runs actions: drawn as a self-loop so the event still shows.
        for (const target of targets.length > 0 ? targets : [child]) {
          lines.push(`${indent}${name(child)} --> ${name(target)}: ${label}`);
        }
      }
    }
    if (child.type === 'final') lines.push(`${indent}${name(child)} --> [*]`);
  }
}

/** The machine's own config as JSON, which Stately's editor imports. */
export function toJson(machine: AnyStateMachine): unknown {
  return JSON.parse(JSON.stringify(machine.config));
}
