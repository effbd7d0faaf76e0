/**
 * Reads back the Mermaid `stateDiagram-v2` subset the exporter writes, so tests judge the diagram a
 * reader sees rather than the exporter's internal graph. Any line outside that subset throws.
 */
export interface Diagram {
  /** Every declared state, by Mermaid id, with its enclosing composite (undefined at top level). */
  readonly parent: ReadonlyMap<string, string | undefined>;
  /** `[*] --> X` per scope; the top-level scope is keyed by undefined. */
  readonly initial: ReadonlyMap<string | undefined, string>;
  readonly finals: ReadonlySet<string>;
  readonly edges: readonly DiagramEdge[];
}

export interface DiagramEdge {
  readonly source: string;
  readonly target: string;
  readonly label: string;
}

export function parseDiagram(text: string): Diagram {
  const parent = new Map<string, string | undefined>();
  const initial = new Map<string | undefined, string>();
  const finals = new Set<string>();
  const edges: DiagramEdge[] = [];
  const scopes: string[] = [];
  const [header, ...lines] = text.trimEnd().split('\n');
  if (header !== 'stateDiagram-v2') throw new Error(`not a state diagram: ${header}`);
  for (const raw of lines) {
    const line = raw.trim();
    let match: RegExpMatchArray | null;
    if ((match = /^state "[^"]*" as (\w+)( \{)?$/.exec(line))) {
      parent.set(match[1]!, scopes.at(-1));
      if (match[2] !== undefined) scopes.push(match[1]!);
    } else if (line === '}') {
      scopes.pop();
    } else if (line === '--') {
      // A separator between the regions of a parallel state: nothing to record.
    } else if ((match = /^\[\*\] --> (\w+)$/.exec(line))) {
      initial.set(scopes.at(-1), match[1]!);
    } else if ((match = /^(\w+) --> \[\*\]$/.exec(line))) {
      finals.add(match[1]!);
    } else if ((match = /^(\w+) --> (\w+): (.+)$/.exec(line))) {
      edges.push({ source: match[1]!, target: match[2]!, label: match[3]! });
    } else {
      throw new Error(`unexpected diagram line: ${raw}`);
    }
  }
  return { parent, initial, finals, edges };
}

/**
 * The states reachable from the initial state following the diagram's edges, with statechart entry:
 * entering a state enters its ancestors; entering a composite enters its initial child, or every
 * child when it has none (a parallel state's regions); entering a state inside a parallel state
 * enters the other regions at their initial states. An edge from a composite leaves any state in it.
 */
export function reachableStates(diagram: Diagram): Set<string> {
  const children = (id: string): string[] => [...diagram.parent].filter(([, of]) => of === id).map(([child]) => child);
  const reached = new Set<string>();
  const pending: string[] = [];
  const mark = (id: string): void => {
    if (reached.has(id)) return;
    reached.add(id);
    pending.push(id);
  };
  const enterByDefault = (id: string): void => {
    mark(id);
    const initial = diagram.initial.get(id);
    if (initial !== undefined) enterByDefault(initial);
    else for (const child of children(id)) enterByDefault(child);
  };
  const enter = (target: string): void => {
    for (let child = target, parent = diagram.parent.get(target); parent !== undefined; child = parent, parent = diagram.parent.get(parent)) {
      mark(parent);
      if (!diagram.initial.has(parent)) for (const region of children(parent)) if (region !== child) enterByDefault(region);
    }
    enterByDefault(target);
  };
  const start = diagram.initial.get(undefined);
  if (start !== undefined) enter(start);
  for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
    for (const edge of diagram.edges) if (edge.source === id) enter(edge.target);
  }
  return reached;
}
