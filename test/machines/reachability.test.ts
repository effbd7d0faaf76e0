/**
 * Every machine's exported diagram against its xstate definition: the diagram declares every state,
 * every state in it is reachable from the initial state along the drawn edges, and every transition
 * that changes state appears as an edge. Expected edges are derived here from xstate's definition
 * objects (not from the exporter's graph), and checked on the parsed Mermaid text, so a diagram that
 * drops a kind of edge fails. The JSON export must carry the same edges.
 */
import { describe, expect, it } from 'vitest';
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { allMachines } from '../../machines/index.js';
import { mermaidId, toJson, toMermaid } from '../../machines/export.js';
import { everyTransitionKindMachine } from './diagram-fixture.js';
import { parseDiagram, reachableStates, type Diagram } from './mermaid-diagram.js';

const machines: Record<string, AnyStateMachine> = { ...allMachines, fixture: everyTransitionKindMachine };

describe.each(Object.entries(machines))('the %s diagram', (_name, machine) => {
  const diagram = parseDiagram(toMermaid(machine));
  const nodes = descendants(machine.root);

  it('declares every state of the definition, and no other', () => {
    expect([...diagram.parent.keys()].sort()).toEqual(nodes.map((node) => mermaidId(node.id)).sort());
  });

  it('reaches every state from the initial state along its edges', () => {
    const reached = reachableStates(diagram);
    const unreachable = [...diagram.parent.keys()].filter((state) => !reached.has(state));
    expect(unreachable).toEqual([]);
  });

  it('draws every transition of the definition that changes state', () => {
    const missing: string[] = [];
    for (const node of [machine.root, ...nodes]) {
      for (const transition of transitionsOf(node)) {
        for (const target of transition.target ?? []) {
          const expected = `${node.id} --> ${target.id}: ${expectedLabel(node, transition)}`;
          const sources = node === machine.root ? topLevelStatesNotHandling(machine.root, transition.eventType) : [node];
          for (const source of sources) {
            if (!hasEdgeFromWithin(diagram, source, target, expectedLabel(node, transition))) missing.push(`${expected} (from ${source.id})`);
          }
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('has the same state-changing edges in its JSON export', () => {
    const { graph } = toJson(machine);
    const fromJson = graph.edges.flatMap((edge) => edge.targets.map((target) => `${mermaidId(edge.source)} --> ${mermaidId(target)}: ${edge.label}`));
    const fromMermaid = diagram.edges.map((edge) => `${edge.source} --> ${edge.target}: ${edge.label}`);
    expect(fromJson.sort()).toEqual(fromMermaid.sort());
    expect(graph.states.map((state) => mermaidId(state.id)).sort()).toEqual([...diagram.parent.keys()].sort());
  });
});

function descendants(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states).flatMap((child) => [child, ...descendants(child)]);
}

/** `on`, `onDone`, invoked actors' `onDone`/`onError`, `after` (all in `transitions`), and `always`. */
function transitionsOf(node: AnyStateNode): AnyTransitionDefinition[] {
  return [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
}

/** The label the documented convention gives a transition: its trigger, then its guard if named. */
function expectedLabel(node: AnyStateNode, transition: AnyTransitionDefinition): string {
  const event = transition.eventType;
  const delayed = node.after.find((each) => each.eventType === event);
  const invoked = node.invoke.find((each) => event === `xstate.done.actor.${each.id}` || event === `xstate.error.actor.${each.id}`);
  const trigger =
    event === ''
      ? 'always'
      : delayed !== undefined
        ? `after ${typeof delayed.delay === 'number' ? `${delayed.delay}ms` : String(delayed.delay)}`
        : invoked !== undefined
          ? `${event.startsWith('xstate.done.') ? 'done' : 'error'}: ${String(invoked.src)}`
          : event === `xstate.done.state.${node.id}`
            ? 'onDone'
            : event;
  return typeof transition.guard === 'string' ? `${trigger} [${transition.guard}]` : trigger;
}

/**
 * The top-level states a root transition must be drawn from (itself or from states inside them):
 * all but final ones (the machine has stopped) and those handling the same event unconditionally.
 */
function topLevelStatesNotHandling(root: AnyStateNode, event: string): AnyStateNode[] {
  return Object.values(root.states).filter((state) => {
    const own = event === '' ? (state.always ?? []) : (state.transitions.get(event) ?? []);
    return state.type !== 'final' && !own.some((transition) => transition.guard === undefined);
  });
}

function hasEdgeFromWithin(diagram: Diagram, source: AnyStateNode, target: AnyStateNode, label: string): boolean {
  const sources = new Set([source, ...descendants(source)].map((node) => mermaidId(node.id)));
  // A guard that is not a plain name (a combinator, an inline function) is checked by trigger only.
  const matches = (drawn: string): boolean => drawn === label || (!label.includes(' [') && drawn.startsWith(`${label} [`));
  return diagram.edges.some((edge) => sources.has(edge.source) && edge.target === mermaidId(target.id) && matches(edge.label));
}
