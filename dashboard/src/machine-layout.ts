/**
 * A layered layout of a machine graph, small enough to need no library: each state's layer is its
 * longest distance from the initial state (a compound state's children sit below it), states in a layer
 * keep document order, and states nothing reaches go in a last layer. Good enough for protocol
 * machines of a dozen states; crossings are not minimised.
 */
import type { MachineGraph } from './wire.js';

export interface PlacedState {
  readonly id: string;
  readonly label: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly final: boolean;
}

export interface PlacedEdge {
  readonly source: string;
  readonly target: string;
  readonly label: string;
}

export interface Layout {
  readonly width: number;
  readonly height: number;
  readonly states: ReadonlyMap<string, PlacedState>;
  readonly edges: readonly PlacedEdge[];
}

export const NODE_HEIGHT = 26;
const LAYER_GAP = 70;
/** From one layer's top to the next one's. */
export const LAYER_STEP = NODE_HEIGHT + LAYER_GAP;
/** Room on the right for the edges that bow out. */
const BOW_ROOM = 100;
const NODE_GAP = 24;
const MARGIN = 16;
const CHAR_WIDTH = 6.5;

function layersOf(graph: MachineGraph): Map<string, number> {
  const next = new Map<string, string[]>();
  const link = (from: string, to: string): void => {
    next.set(from, [...(next.get(from) ?? []), to]);
  };
  for (const state of graph.states) if (state.parent !== undefined) link(state.parent, state.id);
  for (const edge of graph.edges) for (const target of edge.targets) if (target !== edge.source) link(edge.source, target);
  const roots = graph.initial !== undefined ? [graph.initial] : graph.states.filter((state) => state.parent === undefined).map((state) => state.id);
  // Longest path from the roots over the graph without its back edges (found depth first), so a
  // chain attaching -> attached -> detaching -> detached reads top to bottom.
  const forward = new Map<string, string[]>();
  const onPath = new Set<string>();
  const visited = new Set<string>();
  const visit = (id: string): void => {
    visited.add(id);
    onPath.add(id);
    for (const target of next.get(id) ?? []) {
      if (onPath.has(target)) continue;
      forward.set(id, [...(forward.get(id) ?? []), target]);
      if (!visited.has(target)) visit(target);
    }
    onPath.delete(id);
  };
  for (const root of roots) if (!visited.has(root)) visit(root);
  const layer = new Map<string, number>();
  const place = (id: string, depth: number): void => {
    if ((layer.get(id) ?? -1) >= depth) return;
    layer.set(id, depth);
    for (const target of forward.get(id) ?? []) place(target, depth + 1);
  };
  for (const root of roots) place(root, 0);
  const last = Math.max(0, ...layer.values()) + 1;
  for (const state of graph.states) if (!layer.has(state.id)) layer.set(state.id, last);
  return layer;
}

/** A state's label: its key, with its parent's key for nested states (`running.waiting`). */
function labelOf(graph: MachineGraph, id: string): string {
  const byId = new Map(graph.states.map((state) => [state.id, state]));
  const keys: string[] = [];
  for (let state = byId.get(id); state !== undefined; state = state.parent === undefined ? undefined : byId.get(state.parent)) keys.unshift(state.key);
  return keys.join('.');
}

export function layOut(graph: MachineGraph): Layout {
  const layer = layersOf(graph);
  const rows: string[][] = [];
  for (const state of graph.states) (rows[layer.get(state.id) ?? 0] ??= []).push(state.id);
  const states = new Map<string, PlacedState>();
  let width = 0;
  rows.forEach((ids, index) => {
    let x = MARGIN;
    for (const id of ids) {
      const label = labelOf(graph, id);
      const nodeWidth = Math.max(60, label.length * CHAR_WIDTH + 16);
      const final = graph.states.find((state) => state.id === id)?.type === 'final';
      states.set(id, { id, label, x, y: MARGIN + index * (NODE_HEIGHT + LAYER_GAP), width: nodeWidth, final });
      x += nodeWidth + NODE_GAP;
    }
    width = Math.max(width, x);
  });
  // One drawn edge per source and target, however many events lead there.
  const merged = new Map<string, PlacedEdge>();
  for (const edge of graph.edges) {
    for (const target of edge.targets) {
      const key = `${edge.source}\u0000${target}`;
      const seen = merged.get(key);
      merged.set(key, { source: edge.source, target, label: seen === undefined ? edge.label : `${seen.label}, ${edge.label}` });
    }
  }
  return { width: width + MARGIN + BOW_ROOM, height: MARGIN * 2 + rows.length * (NODE_HEIGHT + LAYER_GAP) - LAYER_GAP, states, edges: [...merged.values()] };
}

/** The ids of the states a snapshot's value names (`"idle"` or `{"running":"waiting"}`). */
export function activeStateIds(graph: MachineGraph, value: string): Set<string> {
  let parsed: unknown = value;
  if (value.startsWith('{')) parsed = JSON.parse(value) as unknown;
  const paths: string[] = [];
  const walk = (node: unknown, prefix: string): void => {
    if (typeof node === 'string') {
      paths.push(prefix === '' ? node : `${prefix}.${node}`);
      if (prefix !== '') paths.push(prefix);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const [key, child] of Object.entries(node)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      paths.push(path);
      walk(child, path);
    }
  };
  walk(parsed, '');
  const wanted = new Set(paths);
  return new Set(graph.states.filter((state) => wanted.has(labelOf(graph, state.id))).map((state) => state.id));
}
