/**
 * Cuts one output stream into whole lines, the way a Buildbot worker does before sending (docs/master-worker-protocol.md §2.1).
 *
 * Masters append text to logs line by line; a worker that sent half lines would make every master
 * re-join them, so the worker holds a trailing partial line back until more text or a flush.
 */

/**
 * Buildbot's default `newline_re`: CRLF, a carriage return that is followed by something (a lone
 * one at the end of a chunk may be the first half of a CRLF), cursor-restore, cursor-position and
 * clear-screen escapes, and backspace runs all end a line. `[^\n]` stands in for Python's `.`,
 * which, unlike JavaScript's, also matches `\r`.
 */
export const DEFAULT_NEWLINE_PATTERN = /\r\n|\r(?=[^\n])|\x1b\[u|\x1b\[[0-9]+;[0-9]+[Hf]|\x1b\[2J|\x08+/g;

/** The longest line (including its `\n`) a worker sends; longer lines are cut. */
export const DEFAULT_MAX_LINE_LENGTH = 4096;

/**
 * Accepts a pattern as a master sends it in `set_worker_settings` (Python `re` syntax) or a RegExp.
 * The Python dialect differs from JavaScript's in the parts masters use: `.` excludes only `\n`,
 * and named groups are spelled `(?P<name>`.
 */
export function compileNewlinePattern(pattern: RegExp | string): RegExp {
  if (pattern instanceof RegExp) {
    return pattern.global ? pattern : new RegExp(pattern.source, `${pattern.flags}g`);
  }
  let source = '';
  let inClass = false;
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern[index] as string;
    if (char === '\\') {
      source += pattern.slice(index, index + 2);
      index += 1;
    } else if (inClass) {
      if (char === ']') inClass = false;
      source += char;
    } else if (char === '[') {
      inClass = true;
      source += char;
    } else if (char === '.') {
      source += '[^\\n]';
    } else if (pattern.startsWith('(?P<', index)) {
      source += '(?<';
      index += 3;
    } else {
      source += char;
    }
  }
  return new RegExp(source, 'g');
}

export class LineSplitter {
  private partialLine = '';
  private readonly newlinePattern: RegExp;

  constructor(
    private readonly maxLineLength: number = DEFAULT_MAX_LINE_LENGTH,
    newlinePattern: RegExp | string = DEFAULT_NEWLINE_PATTERN,
  ) {
    if (!Number.isInteger(maxLineLength) || maxLineLength < 2) {
      throw new RangeError(`maxLineLength must be an integer of at least 2, got ${maxLineLength}`);
    }
    this.newlinePattern = compileNewlinePattern(newlinePattern);
  }

  /** Returns the whole lines completed by `text`, each ending in `\n`, or '' when none is complete. */
  push(text: string): string {
    // The held partial line is re-scanned so that sequences split across chunks (CR|LF, an
    // escape cut in half) are recognised once complete.
    const normalised = (this.partialLine + text).replace(this.newlinePattern, '\n');
    const lastNewline = normalised.lastIndexOf('\n');
    let complete = '';
    let rest = normalised;
    if (lastNewline >= 0) {
      complete = normalised
        .slice(0, lastNewline)
        .split('\n')
        .map((line) => this.cutLongLine(line) + '\n')
        .join('');
      rest = normalised.slice(lastNewline + 1);
    }
    // A partial line that is already too long is sent in pieces instead of being held forever.
    while (rest.length >= this.maxLineLength) {
      const cut = this.safeCutIndex(rest);
      complete += rest.slice(0, cut) + '\n';
      rest = rest.slice(cut);
    }
    this.partialLine = rest;
    return complete;
  }

  /** Returns the held partial line with `\n` appended (Buildbot completes it on flush), or ''. */
  flush(): string {
    if (this.partialLine === '') return '';
    return this.push('\n');
  }

  get hasPartialLine(): boolean {
    return this.partialLine !== '';
  }

  private cutLongLine(line: string): string {
    let remaining = line;
    let result = '';
    while (remaining.length >= this.maxLineLength) {
      const cut = this.safeCutIndex(remaining);
      result += remaining.slice(0, cut) + '\n';
      remaining = remaining.slice(cut);
    }
    return result + remaining;
  }

  /** Pieces are `maxLineLength - 1` characters plus the `\n`; never cut a surrogate pair in two. */
  private safeCutIndex(text: string): number {
    const cut = this.maxLineLength - 1;
    const code = text.charCodeAt(cut - 1);
    return code >= 0xd800 && code <= 0xdbff && cut > 1 ? cut - 1 : cut;
  }
}
