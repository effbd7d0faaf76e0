/** Draws a laid-out machine as SVG; the active states get the `current` class. */
import { LAYER_STEP, NODE_HEIGHT, type Layout } from './machine-layout.js';

const SVG = 'http://www.w3.org/2000/svg';
const MAX_EDGE_LABEL = 28;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

export function drawMachine(layout: Layout, title: string): SVGSVGElement {
  const root = svg('svg', { class: 'machine', viewBox: `0 0 ${layout.width} ${layout.height}`, width: layout.width, height: layout.height, role: 'img' });
  root.append(svg('title', {}, title));
  const defs = svg('defs', {});
  const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' });
  marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', style: 'fill:#888' }));
  defs.append(marker);
  root.append(defs);
  // Several edges leaving (or entering) one state spread over its width instead of sharing a point.
  const outgoing = new Map<string, string[]>();
  const incoming = new Map<string, string[]>();
  for (const edge of layout.edges) {
    outgoing.set(edge.source, [...(outgoing.get(edge.source) ?? []), edge.target]);
    incoming.set(edge.target, [...(incoming.get(edge.target) ?? []), edge.source]);
  }
  const spread = (x: number, width: number, all: readonly string[], one: string): number => x + (width * (all.indexOf(one) + 1)) / (all.length + 1);
  for (const edge of layout.edges) {
    const from = layout.states.get(edge.source);
    const to = layout.states.get(edge.target);
    if (from === undefined || to === undefined) continue;
    const x1 = spread(from.x, from.width, outgoing.get(edge.source) ?? [], edge.target);
    const x2 = spread(to.x, to.width, incoming.get(edge.target) ?? [], edge.source);
    const downwards = to.y > from.y;
    const y1 = downwards ? from.y + NODE_HEIGHT : from.y;
    const y2 = downwards ? to.y : to.y + NODE_HEIGHT;
    // Edges back up the layers, and edges skipping layers, bow out sideways so they do not run
    // through the states in between.
    const skipped = Math.round(Math.abs(to.y - from.y) / LAYER_STEP) - 1;
    const bow = !downwards ? 50 : skipped > 0 ? 40 * skipped : 0;
    const d = `M${x1},${y1} C${x1 + bow},${(y1 + y2) / 2} ${x2 + bow},${(y1 + y2) / 2} ${x2},${y2}`;
    const group = svg('g', { 'data-edge': `${edge.source}->${edge.target}` });
    group.append(svg('path', { d, 'marker-end': 'url(#arrow)' }));
    const label = edge.label.length > MAX_EDGE_LABEL ? `${edge.label.slice(0, MAX_EDGE_LABEL - 1)}…` : edge.label;
    const text = svg('text', { class: 'edge', x: (x1 + x2) / 2 + bow / 2 + 3, y: (y1 + y2) / 2 }, label);
    text.append(svg('title', {}, edge.label));
    group.append(text);
    root.append(group);
  }
  for (const state of layout.states.values()) {
    const group = svg('g', { 'data-state': state.id });
    group.append(svg('rect', { x: state.x, y: state.y, width: state.width, height: NODE_HEIGHT, rx: state.final ? 13 : 5 }));
    group.append(svg('text', { x: state.x + state.width / 2, y: state.y + NODE_HEIGHT / 2 + 4, 'text-anchor': 'middle' }, state.label));
    root.append(group);
  }
  return root;
}

export function highlight(root: SVGSVGElement, active: ReadonlySet<string>): void {
  for (const group of root.querySelectorAll<SVGGElement>('g[data-state]')) {
    group.classList.toggle('current', active.has(group.getAttribute('data-state') ?? ''));
  }
}
