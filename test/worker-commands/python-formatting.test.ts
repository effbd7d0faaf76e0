import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pythonOSErrorText, systemErrorDetails } from '../../actors/worker/commands/errno-text.js';
import { fnmatch } from '../../actors/worker/commands/fnmatch.js';
import { pythonBytesRepr, pythonRepr } from '../../codec/python-repr.js';
import { shellQuoteArgument } from '../../actors/worker/commands/shell-quote.js';

/** Runs `code` with JSON input on stdin and returns its JSON output: one Python process per test. */
function python(code: string, input: unknown): unknown {
  const result = spawnSync('python3', ['-c', `import json, sys\ndata = json.load(sys.stdin)\n${code}`], {
    input: JSON.stringify(input),
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout);
}

// The BMP only: astral planes are where Node's ICU and Python's unicodedata disagree most about
// which characters are assigned (their Unicode versions differ), which is not what is tested here.
const anyCodePoint = fc
  .integer({ min: 0, max: 0xffff })
  .filter((codePoint) => codePoint < 0xd800 || codePoint > 0xdfff)
  .map((codePoint) => String.fromCodePoint(codePoint));
const tricky = fc.constantFrom("'", '"', '\\', '\n', '\t', '\x00', '\x7f', 'é', '\u200b', '😀', ' ', 'a', '*', '?', '[', ']', '!', '-', '.');
const text = fc.string({ unit: fc.oneof(tricky, anyCodePoint), maxLength: 12 });

describe('Python formatting, compared with Python itself', () => {
  it('repr of str, bytes and nested values', () => {
    const samples = fc.sample(text, { numRuns: 300, seed: 42 });
    // Python's unicodedata is older than Node's ICU; characters it does not know yet are escaped
    // there but printable here. Those samples only take part in the bytes comparison.
    const expected = python(
      'import unicodedata\n' +
        'print(json.dumps([[repr(s), repr(s.encode("utf-8")), all(unicodedata.category(c) != "Cn" for c in s)] for s in data]))',
      samples,
    ) as Array<[string, string, boolean]>;
    expect(expected.filter(([, , allAssigned]) => allAssigned).length).toBeGreaterThan(150);
    samples.forEach((sample, index) => {
      const [stringRepr, bytesRepr, allAssigned] = expected[index] as [string, string, boolean];
      if (allAssigned) expect(pythonRepr(sample), JSON.stringify(sample)).toBe(stringRepr);
      expect(pythonBytesRepr(sample), JSON.stringify(sample)).toBe(bytesRepr);
    });
    const nested = { log: 'out.log', opts: { filename: "it's", follow: true, n: 3, none: null }, list: ['a', 1.5] };
    expect(pythonRepr(nested)).toBe(python('print(json.dumps(repr(data)))', nested));
  });

  it('shell quoting matches shlex.quote (except that Buildbot shows "" for an empty argument)', () => {
    const samples = fc.sample(text, { numRuns: 300, seed: 7 }).filter((sample) => sample !== '');
    const expected = python('import shlex\nprint(json.dumps([shlex.quote(s) for s in data]))', samples) as string[];
    samples.forEach((sample, index) => expect(shellQuoteArgument(sample), JSON.stringify(sample)).toBe(expected[index]));
    expect(shellQuoteArgument('')).toBe('""');
  });

  it('fnmatch agrees with Python on random names and patterns', () => {
    const name = fc.string({ unit: fc.constantFrom('a', 'b', '-', '.', '!', ']', '[', '\\', 'é'), maxLength: 5 });
    const pattern = fc.string({ unit: fc.constantFrom('a', 'b', '-', '.', '!', ']', '[', '\\', '*', '?', 'é'), maxLength: 7 });
    const pairs = fc.sample(fc.tuple(name, pattern), { numRuns: 2000, seed: 3 });
    const expected = python('import fnmatch\nprint(json.dumps([fnmatch.fnmatchcase(n, p) for n, p in data]))', pairs) as boolean[];
    pairs.forEach(([candidate, glob], index) => expect(fnmatch(candidate, glob), JSON.stringify([candidate, glob])).toBe(expected[index]));
  });

  it('errno texts are the C library ones, as Python prints them', () => {
    const details = systemErrorDetails(Object.assign(new Error('x'), { code: 'ENOENT' }));
    expect(details).toEqual({ code: 'ENOENT', errno: 2, strerror: 'No such file or directory' });
    expect(pythonOSErrorText(details as NonNullable<typeof details>, "/a'b")).toBe(`[Errno 2] No such file or directory: "/a'b"`);
    expect(systemErrorDetails(new Error('plain'))).toBeUndefined();
    const codes = ['EEXIST', 'ENOTDIR', 'EISDIR', 'EACCES', 'ENOTEMPTY', 'ELOOP', 'ENAMETOOLONG', 'EXDEV'];
    const expected = python('import errno, os\nprint(json.dumps([[getattr(errno, c), os.strerror(getattr(errno, c))] for c in data]))', codes) as Array<
      [number, string]
    >;
    codes.forEach((code, index) => {
      const found = systemErrorDetails({ code });
      expect([found?.errno, found?.strerror]).toEqual(expected[index]);
    });
  });
});
