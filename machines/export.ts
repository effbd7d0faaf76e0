import type { AnyStateMachine } from 'xstate';
import { machineGraph, type GraphState, type MachineGraph } from './machine-graph.js';

export { machineGraph, type MachineGraph, type GraphState, type GraphEdge, type GraphEdgeKind } from './machine-graph.js';

/**
 * A Mermaid `stateDiagram-v2` drawn from the machine definition itself, so documentation cannot
 * drift from the code (a test compares the README's diagrams with this output). Every transition
 * that changes state is drawn (see machine-graph.ts for the labels). Targetless transitions are
 * left out: they only run actions, and a self-loop would read as re-entering the state. The JSON
 * export lists them.
 */
export function toMermaid(machine: AnyStateMachine): string {
  const graph = machineGraph(machine);
  const lines = ['stateDiagram-v2'];
  renderStates(graph, undefined, lines, '  ');
  // Edges come after every state is declared: Mermaid puts a state it has not seen yet inside
  // whichever composite first mentions it.
  for (const edge of graph.edges) {
    for (const target of edge.targets) lines.push(`  ${mermaidId(edge.source)} --> ${mermaidId(target)}: ${edge.label}`);
  }
  return lines.join('\n') + '\n';
}

/** The Mermaid identifier of a state: its xstate id with anything but letters, digits and `_` replaced. */
export function mermaidId(stateId: string): string {
  return stateId.replace(/[^A-Za-z0-9_]/g, '_');
}

function renderStates(graph: MachineGraph, parentId: string | undefined, lines: string[], indent: string): void {
  const parent = graph.states.find((state) => state.id === parentId);
  const children = graph.states.filter((state) => state.parent === parentId);
  const initial = parent === undefined ? graph.initial : parent.initial;
  if (initial !== undefined) lines.push(`${indent}[*] --> ${mermaidId(initial)}`);
  children.forEach((child, index) => {
    // Mermaid separates the regions of a parallel state with `--`.
    if (parent?.type === 'parallel' && index > 0) lines.push(`${indent}--`);
    renderState(graph, child, lines, indent);
  });
}

function renderState(graph: MachineGraph, state: GraphState, lines: string[], indent: string): void {
  const declaration = `${indent}state "${state.key}" as ${mermaidId(state.id)}`;
  if (state.type === 'compound' || state.type === 'parallel') {
    lines.push(`${declaration} {`);
    renderStates(graph, state.id, lines, indent + '  ');
    lines.push(`${indent}}`);
  } else {
    lines.push(declaration);
  }
  if (state.type === 'final') lines.push(`${indent}${mermaidId(state.id)} --> [*]`);
}

/**
 * The same graph as the diagram (targetless transitions included), plus the machine's own config,
 * which Stately's editor imports.
 */
export function toJson(machine: AnyStateMachine): { graph: MachineGraph; config: unknown } {
  return { graph: machineGraph(machine), config: JSON.parse(JSON.stringify(machine.config)) as unknown };
}
