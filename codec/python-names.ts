/**
 * The name a Twisted responder sees for a wire name (docs/amp-protocol.md §3): `-` becomes `_`, and the Python 2
 * keyword list Twisted keeps gets a capital first letter (`from` → `From`). ampstate keeps wire names
 * as they are (any string is a JS property name); this tells what the Python side will call them.
 */
const TWISTED_PYTHON_KEYWORDS = new Set([
  'and', 'del', 'for', 'is', 'raise', 'assert', 'elif', 'from', 'lambda', 'return', 'break', 'else', 'global',
  'not', 'try', 'class', 'except', 'if', 'or', 'while', 'continue', 'exec', 'import', 'pass', 'yield', 'def',
  'finally', 'in', 'print',
]);

export function pythonIdentifier(wireName: string): string {
  const name = wireName.replaceAll('-', '_');
  return TWISTED_PYTHON_KEYWORDS.has(name) ? name[0]!.toUpperCase() + name.slice(1) : name;
}
