import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { UpdateEntry } from '../../actors/worker/commands/command.js';
import { compileNewlinePattern, DEFAULT_NEWLINE_PATTERN, LineSplitter } from '../../actors/worker/commands/line-splitter.js';
import { OutputBuffer, outputOptionsFromWorkerSettings } from '../../actors/worker/commands/output-buffer.js';

/** The newline_re a Buildbot master sends in set_worker_settings. */
const PYTHON_NEWLINE_RE = '(\\r\\n|\\r(?=.)|\\033\\[u|\\033\\[[0-9]+;[0-9]+[Hf]|\\033\\[2J|\\x08+)';

/** Independent statement of the rules: normalise the whole text at once, then complete the last line. */
function referenceLines(text: string): string {
  const normalise = (raw: string) => raw.replace(/\r\n|\r(?=[^\n])|\x1b\[u|\x1b\[\d+;\d+[Hf]|\x1b\[2J|\x08+/g, '\n');
  const normalised = normalise(text);
  // Completing the last line appends \n to the raw text, so a trailing CR becomes part of a CRLF.
  return normalised === '' || normalised.endsWith('\n') ? normalised : normalise(`${text}\n`);
}

function splitAll(splitter: LineSplitter, chunks: readonly string[]): string {
  return chunks.map((chunk) => splitter.push(chunk)).join('') + splitter.flush();
}

/** Cuts `text` at the given (sorted, deduplicated) offsets. */
function cut(text: string, offsets: readonly number[]): string[] {
  const points = [...new Set(offsets.map((offset) => offset % (text.length + 1)))].sort((a, b) => a - b);
  const chunks: string[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(text.slice(start, point));
    start = point;
  }
  chunks.push(text.slice(start));
  return chunks;
}

const outputText = (alphabet: string[]) =>
  fc.array(fc.constantFrom(...alphabet), { maxLength: 200 }).map((chars) => chars.join(''));

describe('LineSplitter', () => {
  it('holds a partial line until more text or a flush, which appends \\n', () => {
    const splitter = new LineSplitter();
    expect(splitter.push('one\ntw')).toBe('one\n');
    expect(splitter.hasPartialLine).toBe(true);
    expect(splitter.push('o\nthr')).toBe('two\n');
    expect(splitter.flush()).toBe('thr\n');
    expect(splitter.flush()).toBe('');
  });

  it('treats CRLF split across chunks as one line end and a lone CR as a line end', () => {
    const splitter = new LineSplitter();
    expect(splitter.push('a\r')).toBe('');
    expect(splitter.push('\nb\rc')).toBe('a\nb\n');
    expect(splitter.flush()).toBe('c\n');
  });

  it('turns cursor escapes and backspace runs into line ends', () => {
    const splitter = new LineSplitter();
    expect(splitter.push('a\x1b[2Jb\x1b[10;20Hc\x1b[5;6fd\x1b[ue\b\b\bf\n')).toBe('a\nb\nc\nd\ne\nf\n');
  });

  it('cuts long lines into pieces of maxLineLength characters including the \\n, losing nothing', () => {
    const splitter = new LineSplitter(4096);
    const long = 'x'.repeat(4096 * 2 + 10);
    const result = splitter.push(`${long}\nshort\n`);
    expect(result.split('\n').map((line) => line.length)).toEqual([4095, 4095, 12, 5, 0]);
    expect(result.replaceAll('\n', '')).toBe(`${long}short`);
  });

  it('sends an overlong partial line in pieces instead of holding it', () => {
    const splitter = new LineSplitter(10);
    expect(splitter.push('abcdefghijklmnopqrst')).toBe('abcdefghi\njklmnopqr\n');
    expect(splitter.flush()).toBe('st\n');
  });

  it('accepts the Python pattern a master sends, with the same meaning as the default', () => {
    const fromPython = compileNewlinePattern(PYTHON_NEWLINE_RE);
    const sample = 'a\r\rb\r\nc\x1b[1;2Hd\b\be\x1b[2J\r';
    expect(sample.replace(fromPython, '\n')).toBe(sample.replace(DEFAULT_NEWLINE_PATTERN, '\n'));
    expect(compileNewlinePattern('(?P<nl>\\n)').source).toBe('(?<nl>\\n)');
  });

  it('property: the emitted text is the input with newline normalisation, however it is chunked', () => {
    // Backspace runs are left out here: a run split across chunks yields two line ends, as in Buildbot.
    const alphabet = ['a', 'b', ' ', '\n', '\r', '\x1b', '[', '2', 'J', 'u', ';', '1', 'H', 'é', '😀'];
    fc.assert(
      fc.property(outputText(alphabet), fc.array(fc.nat(), { maxLength: 8 }), (text, offsets) => {
        expect(splitAll(new LineSplitter(1_000_000), cut(text, offsets))).toBe(referenceLines(text));
      }),
      { numRuns: 500 },
    );
  });

  it('property: backspace runs and long lines are handled on the whole text', () => {
    const alphabet = ['a', '\n', '\r', '\b', 'x'];
    fc.assert(
      fc.property(outputText(alphabet), fc.integer({ min: 2, max: 12 }), (text, maxLineLength) => {
        const emitted = splitAll(new LineSplitter(maxLineLength), [text]);
        const lines = emitted.split('\n').slice(0, -1);
        expect(lines.every((line) => line.length + 1 <= maxLineLength)).toBe(true);
        expect(emitted.replaceAll('\n', '')).toBe(referenceLines(text).replaceAll('\n', ''));
        if (emitted !== '') expect(emitted.endsWith('\n')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('OutputBuffer', () => {
  afterEach(() => vi.useRealTimers());

  function collect(options: ConstructorParameters<typeof OutputBuffer>[1] = {}) {
    const sent: UpdateEntry[][] = [];
    const buffer = new OutputBuffer((entries) => sent.push(entries), { bufferTimeoutSeconds: 5, ...options });
    return { sent, buffer };
  }

  it('merges adjacent entries of one stream and keeps the order across streams', () => {
    const { sent, buffer } = collect();
    buffer.append([['stdout', 'a\n'], ['stdout', 'b\n'], ['stderr', 'c\n'], ['stdout', 'd\n'], ['rc', 0]]);
    buffer.append([['log', ['x', 'l1\n']], ['log', ['x', 'l2\n']], ['log', ['y', 'm\n']]]);
    expect(sent).toEqual([]);
    buffer.flush();
    expect(sent).toEqual([
      [
        ['stdout', 'a\nb\n'],
        ['stderr', 'c\n'],
        ['stdout', 'd\n'],
        ['rc', 0],
        ['log', ['x', 'l1\nl2\n']],
        ['log', ['y', 'm\n']],
      ],
    ]);
  });

  it('sends buffer_timeout after the first buffered entry', () => {
    vi.useFakeTimers();
    const { sent, buffer } = collect();
    buffer.append([['stdout', 'x\n']]);
    vi.advanceTimersByTime(3000);
    buffer.append([['stdout', 'y\n']]);
    vi.advanceTimersByTime(1999);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([[['stdout', 'x\ny\n']]]);
  });

  it('holds partial lines past the timer; flush completes them in stream order', () => {
    vi.useFakeTimers();
    const { sent, buffer } = collect();
    buffer.append([['stdout', 'out'], ['stderr', 'err'], ['header', 'head'], ['log', ['z', 'log']]]);
    vi.advanceTimersByTime(10_000);
    expect(sent).toEqual([]);
    buffer.flush();
    expect(sent).toEqual([
      [
        ['header', 'head\n'],
        ['log', ['z', 'log\n']],
        ['stderr', 'err\n'],
        ['stdout', 'out\n'],
      ],
    ]);
  });

  it('sends as soon as buffer_size would be exceeded, counting UTF-8 bytes plus 16 per line and 20 per other entry', () => {
    const { sent, buffer } = collect({ bufferSize: 60 });
    buffer.append([['stdout', 'ééé\n']]); // 7 bytes + 16
    buffer.append([['rc', 0]]); // 20 → 43
    expect(sent).toEqual([]);
    buffer.append([['stdout', 'abc\n']]); // 4 + 16 → 63 > 60
    expect(sent).toEqual([[['stdout', 'ééé\n'], ['rc', 0]]]);
    buffer.flush();
    expect(sent.at(-1)).toEqual([['stdout', 'abc\n']]);
  });

  it('splits text larger than the buffer into whole-line messages', () => {
    const { sent, buffer } = collect({ bufferSize: 64 });
    const lines = Array.from({ length: 10 }, (_, index) => `line ${index} of the output\n`);
    buffer.append([['stdout', lines.join('')]]);
    expect(sent.length).toBeGreaterThan(1);
    for (const batch of sent) {
      expect(batch).toHaveLength(1);
      const text = batch[0]?.[1] as string;
      expect(text.endsWith('\n')).toBe(true);
      expect(Buffer.byteLength(text) + 16 * (text.split('\n').length - 1)).toBeLessThanOrEqual(64);
    }
    expect(sent.map((batch) => batch[0]?.[1]).join('')).toBe(lines.join(''));
  });

  it('discard drops everything and ignores later output', () => {
    vi.useFakeTimers();
    const { sent, buffer } = collect();
    buffer.append([['stdout', 'a\npartial']]);
    buffer.discard();
    buffer.append([['stdout', 'b\n']]);
    buffer.flush();
    vi.advanceTimersByTime(10_000);
    expect(sent).toEqual([]);
  });

  it('takes its settings from set_worker_settings arguments', () => {
    const options = outputOptionsFromWorkerSettings({ buffer_size: 100, buffer_timeout: 1, newline_re: PYTHON_NEWLINE_RE, max_line_length: 10 });
    const { sent, buffer } = collect(options);
    buffer.append([['stdout', 'abcdefghijkl\r\n']]);
    buffer.flush();
    expect(sent).toEqual([[['stdout', 'abcdefghi\njkl\n']]]);
  });

  it('property: per stream, everything sent is the normalised input, in batches within buffer_size', () => {
    const streams = ['stdout', 'stderr', 'header'] as const;
    const entry = fc.oneof(
      fc.tuple(fc.constantFrom(...streams), outputText(['a', 'b', '\n', '\r', 'é'])),
      fc.tuple(fc.constant('rc'), fc.integer()),
    );
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 40 }), fc.integer({ min: 40, max: 400 }), (entries, bufferSize) => {
        const { sent, buffer } = collect({ bufferSize });
        for (const [key, value] of entries) buffer.append([[key, value]]);
        buffer.flush();
        for (const stream of streams) {
          const input = entries.filter(([key]) => key === stream).map(([, value]) => value).join('');
          const output = sent.flat().filter(([key]) => key === stream).map(([, value]) => value).join('');
          expect(output).toBe(referenceLines(input));
        }
        expect(sent.flat().filter(([key]) => key === 'rc').map(([, value]) => value)).toEqual(
          entries.filter(([key]) => key === 'rc').map(([, value]) => value),
        );
        for (const batch of sent) {
          if (batch.length === 1) continue;
          const size = batch.reduce((total, [key, value]) => {
            if (key === 'rc') return total + 20;
            const text = value as string;
            return total + Buffer.byteLength(text) + 16 * (text.split('\n').length - 1);
          }, 0);
          expect(size).toBeLessThanOrEqual(bufferSize);
        }
      }),
      { numRuns: 300 },
    );
  });
});
