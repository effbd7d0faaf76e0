/**
 * Test ids. Python tests use trial's dotted ids (`pkg.test_mod.Class.test_method`). JavaScript
 * tests (node:test files run by the TypeScript worker) use
 *
 *     <file>::<suite>::…::<test>
 *
 * where `<file>` is the path as given to the manager (relative paths are relative to the directory
 * the worker was launched in, i.e. the manager's cwd) and the rest are the `describe`/`test` names
 * from the outermost suite down. `<file>` alone names every test of the file, `<file>::<suite>`
 * every test of that suite. A name that itself contains `::` cannot be addressed on its own.
 */

export const NODE_ID_SEPARATOR = '::';

export function isNodeId(id: string): boolean {
  return id.includes(NODE_ID_SEPARATOR);
}

export interface NodeTestAddress {
  readonly file: string;
  /** Suite and test names, outermost first; empty for a whole file. */
  readonly path: readonly string[];
}

export function parseNodeId(id: string): NodeTestAddress {
  const [file = '', ...path] = id.split(NODE_ID_SEPARATOR);
  return { file, path };
}

export function formatNodeId(file: string, path: readonly string[]): string {
  return [file, ...path].join(NODE_ID_SEPARATOR);
}

/**
 * How the tree reporter shows an id: the parent segments (one line each when they change) and the
 * leaf. Dotted ids follow trial's TreeReporter exactly: `[module path, Class]` and the method.
 */
export function treeSegments(id: string): { prelude: string[]; leaf: string } {
  if (isNodeId(id)) {
    const parts = id.split(NODE_ID_SEPARATOR);
    const leaf = parts.pop() ?? '';
    return { prelude: parts.filter((p) => p.length > 0), leaf };
  }
  const parts = id.split('.');
  const leaf = parts[parts.length - 1] ?? '';
  const parents = parts.slice(0, -1);
  if (parents.length === 0) return { prelude: [], leaf };
  const prelude = [parents.slice(0, -1).join('.'), parents[parents.length - 1] ?? ''].filter((s) => s.length > 0);
  return { prelude, leaf };
}
