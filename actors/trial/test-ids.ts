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

/** Python's `repr()` of a str, as trial prints todo reasons (`Reason: 'known to be broken'`). */
export function pythonStrRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === quote || char === '\\') out += `\\${char}`;
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code >= 0x80 && !isPrintable(char)) {
      if (code <= 0xff) out += `\\x${code.toString(16).padStart(2, '0')}`;
      else if (code <= 0xffff) out += `\\u${code.toString(16).padStart(4, '0')}`;
      else out += `\\U${code.toString(16).padStart(8, '0')}`;
    } else out += char;
  }
  return out + quote;
}

// Python's str.isprintable(): everything but the Other (C*) and Separator (Z*) categories, space kept.
const NON_PRINTABLE = /[\p{C}\p{Z}]/u;
function isPrintable(char: string): boolean {
  return !NON_PRINTABLE.test(char);
}
