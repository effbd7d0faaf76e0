/**
 * Python's `fnmatch` patterns (POSIX flavour: case-sensitive) as RegExps: `*`, `?`, and `[...]`
 * sets with `!` negation. The glob command must match exactly what a Python worker matches,
 * which minimatch-style matchers do not (`[!x]`, no brace expansion, no escaping).
 */

const REGEX_SYNTAX = /[\\^$.*+?()[\]{}|/]/;

function escapeLiteral(char: string): string {
  return REGEX_SYNTAX.test(char) ? `\\${char}` : char;
}

function escapeInClass(char: string): string {
  return char === '\\' || char === ']' || char === '[' || char === '^' || char === '-' ? `\\${char}` : char;
}

/** The RegExp source for a `[...]` set whose members are `members` (the text between the brackets). */
function translateSet(members: readonly string[]): string {
  let negated = false;
  let start = 0;
  if (members[0] === '!') {
    negated = true;
    start = 1;
  }
  let items = '';
  for (let index = start; index < members.length; ) {
    const low = members[index] as string;
    const high = members[index + 2];
    if (members[index + 1] === '-' && high !== undefined) {
      // Python drops reversed ranges instead of failing.
      if (low <= high) items += `${escapeInClass(low)}-${escapeInClass(high)}`;
      index += 3;
    } else {
      items += escapeInClass(low);
      index += 1;
    }
  }
  if (items === '') return negated ? '[\\s\\S]' : '(?!)';
  return `[${negated ? '^' : ''}${items}]`;
}

export function fnmatchToRegExp(pattern: string): RegExp {
  const chars = [...pattern];
  let source = '';
  let previousWasStar = false;
  for (let index = 0; index < chars.length; ) {
    const char = chars[index] as string;
    index += 1;
    if (char === '*') {
      if (!previousWasStar) source += '[\\s\\S]*';
      previousWasStar = true;
      continue;
    }
    previousWasStar = false;
    if (char === '?') {
      source += '[\\s\\S]';
    } else if (char === '[') {
      let end = index;
      if (chars[end] === '!') end += 1;
      if (chars[end] === ']') end += 1;
      while (end < chars.length && chars[end] !== ']') end += 1;
      if (end >= chars.length) {
        source += '\\[';
      } else {
        source += translateSet(chars.slice(index, end));
        index = end + 1;
      }
    } else {
      source += escapeLiteral(char);
    }
  }
  return new RegExp(`^(?:${source})$`, 'u');
}

export function fnmatch(name: string, pattern: string): boolean {
  return fnmatchToRegExp(pattern).test(name);
}
