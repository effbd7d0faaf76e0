import { describe, expect, it } from 'vitest';
import { TrialTreeReporter, trimFrames } from '../../actors/trial/reporter.js';
import { parseSummaryLine, summaryLine, type TrialResult } from '../../actors/trial/results.js';
import { pythonStrRepr } from '../../codec/python-repr.js';
import { treeSegments } from '../../actors/trial/test-ids.js';

function result(outcome: TrialResult['outcome'], test: string, extra: Partial<TrialResult> = {}): TrialResult {
  return { outcome, test, reportedName: test, origin: 'worker', ...extra };
}

function render(feed: (r: TrialTreeReporter) => void, seconds = 0.1234): string {
  let text = '';
  const reporter = new TrialTreeReporter({ write: (s) => (text += s), sourceLine: () => '' });
  feed(reporter);
  reporter.done(seconds);
  return text;
}

describe('trial tree reporter', () => {
  it('summary line: trial order, zeros omitted, PASSED iff no failure and no error', () => {
    expect(summaryLine({ skips: 1, expectedFailures: 1, failures: 3, errors: 2, unexpectedSuccesses: 1, successes: 4 })).toBe(
      'FAILED (skips=1, expectedFailures=1, failures=3, errors=2, unexpectedSuccesses=1, successes=4)',
    );
    expect(summaryLine({ skips: 0, expectedFailures: 0, failures: 0, errors: 0, unexpectedSuccesses: 1, successes: 0 })).toBe('PASSED (unexpectedSuccesses=1)');
    expect(summaryLine({ skips: 0, expectedFailures: 0, failures: 0, errors: 0, unexpectedSuccesses: 0, successes: 0 })).toBe('PASSED');
    expect(parseSummaryLine('FAILED (failures=2, successes=139)')).toEqual({
      passed: false,
      counts: { skips: 0, expectedFailures: 0, failures: 2, errors: 0, unexpectedSuccesses: 0, successes: 139 },
    });
    expect(parseSummaryLine('    test_x ... ')).toBeUndefined();
  });

  it('prints the tree like TreeReporter: 79 columns, class lines again when the class changes', () => {
    const out = render((r) => {
      r.running(3);
      r.testFinished('ampstate_sample.test_outcomes.OutcomeTests.test_pass_one', [result('success', 'x')]);
      r.testFinished('ampstate_sample.test_outcomes.LargeMessageTests.test_large_error', [result('skip', 'y', { reason: 'r' })]);
      r.testFinished('ampstate_sample.test_outcomes.OutcomeTests.test_todo_passes', [result('unexpectedSuccess', 'z', { todo: 'should have failed' })]);
    });
    expect(out.split('\n').slice(0, 8)).toEqual([
      'Running 3 tests.',
      'ampstate_sample.test_outcomes',
      '  OutcomeTests',
      '    test_pass_one ...                                                      [OK]',
      '  LargeMessageTests',
      '    test_large_error ...                                              [SKIPPED]',
      '  OutcomeTests',
      '    test_todo_passes ...                                           [SUCCESS!?!]',
    ]);
    // The unexpected-success block is printed (Twisted 22.4 -j crashes here and loses the summary).
    expect(out).toContain('[SUCCESS!?!]\nReason: \'should have failed\'\n\n');
    expect(out.endsWith('Ran 3 tests in 0.123s\n\nPASSED (skips=1, unexpectedSuccesses=1, successes=1)\n')).toBe(true);
  });

  it('long names get no padding; zero tests print no Ran line', () => {
    const long = 'm.C.test_with_a_very_long_method_name_that_overflows_the_seventy_nine_columns';
    const out = render((r) => r.testFinished(long, [result('success', long)]));
    expect(out).toContain('    test_with_a_very_long_method_name_that_overflows_the_seventy_nine_columns ... [OK]\n');
    expect(render((r) => r.running(0))).toBe(`Running 0 tests.\n\n${'-'.repeat(79)}\n\nPASSED\n`);
  });

  it('groups identical result texts and prints blocks in trial order', () => {
    const out = render((r) => {
      r.testFinished('m.T.test_a', [result('error', 'm.T.test_a', { errorClass: 'builtins.ValueError', message: 'boom', frames: [] })]);
      r.testFinished('m.T.test_b', [result('error', 'm.T.test_b', { errorClass: 'builtins.ValueError', message: 'boom', frames: [] })]);
      r.testFinished('m.T.test_c', [result('expectedFailure', 'm.T.test_c', { todo: "it's broken", message: 'still broken\n' })]);
      r.testFinished('m.T.test_d', [result('failure', 'm.T.test_d', { errorClass: 'twisted.trial.unittest.FailTest', message: 'no', frames: [{ name: 'test_d', file: '/nope.py', line: 3 }] })]);
    });
    const blocks = out.split(`${'='.repeat(79)}\n`).slice(1);
    expect(blocks).toEqual([
      `[TODO]\nReason: "it's broken"\nstill broken\n\nm.T.test_c\n`,
      '[FAIL]\nTraceback (most recent call last):\n  File "/nope.py", line 3, in test_d\n    \ntwisted.trial.unittest.FailTest: no\n\nm.T.test_d\n',
      `[ERROR]\nTraceback (most recent call last):\nFailure: builtins.ValueError: boom\n\nm.T.test_a\nm.T.test_b\n${'-'.repeat(79)}\nRan 4 tests in 0.123s\n\nFAILED (expectedFailures=1, failures=1, errors=2)\n`,
    ]);
  });

  it('trims trial runner frames as Reporter._trimFrames does', () => {
    const f = (name: string, file: string, line = 1) => ({ name, file, line });
    expect(
      trimFrames([
        f('maybeDeferred', '/t/internet/defer.py'),
        f('runWithWarningsSuppressed', '/t/internet/utils.py'),
        f('runWithWarningsSuppressed', '/t/python/utils.py'),
        f('test_fail_explicit', '/src/test_outcomes.py', 55),
        f('fail', '/t/trial/_synctest.py', 359),
      ]),
    ).toEqual([f('test_fail_explicit', '/src/test_outcomes.py', 55)]);
    expect(trimFrames([f('_run', '/t/_synctest.py'), f('runWithWarningsSuppressed', '/t/util.py'), f('t', '/a.py')])).toEqual([f('t', '/a.py')]);
    expect(trimFrames([f('_runCallbacks', '/t/defer.py'), f('t', '/a.py')])).toEqual([f('t', '/a.py')]);
    expect(trimFrames([f('only', '/a.py')])).toEqual([f('only', '/a.py')]);
  });

  it('reads the source line of each frame, stripped, like linecache', () => {
    let text = '';
    const reporter = new TrialTreeReporter({ write: (s) => (text += s), sourceLine: (file, line) => (file === '/a.py' && line === 2 ? '    raise X()  \n' : '') });
    expect(reporter.formatTraceback(result('error', 't', { errorClass: 'builtins.X', message: 'm', frames: [{ name: 'f', file: '/a.py', line: 2 }] }))).toBe(
      'Traceback (most recent call last):\n  File "/a.py", line 2, in f\n    raise X()\nbuiltins.X: m\n',
    );
    expect(text).toBe('');
  });

  it('colours markers and the status on a colour terminal', () => {
    let text = '';
    const reporter = new TrialTreeReporter({ write: (s) => (text += s), colors: true });
    reporter.testFinished('m.T.t', [result('success', 'm.T.t')]);
    reporter.done(0);
    expect(text).toContain(`    t ... ${' '.repeat(79 - 10 - 4)}\x1b[32;1m[OK]\x1b[0m\n`);
    expect(text.endsWith('\x1b[32;1mPASSED\x1b[0m (successes=1)\n')).toBe(true);
  });
});

describe('test ids', () => {
  it('splits dotted ids as TreeReporter and node ids by ::', () => {
    expect(treeSegments('a.b.c.Class.method')).toEqual({ prelude: ['a.b.c', 'Class'], leaf: 'method' });
    expect(treeSegments('Class.method')).toEqual({ prelude: ['Class'], leaf: 'method' });
    expect(treeSegments('nonexistent')).toEqual({ prelude: [], leaf: 'nonexistent' });
    expect(treeSegments('dir/x.test.mjs::suite::inner::test one')).toEqual({ prelude: ['dir/x.test.mjs', 'suite', 'inner'], leaf: 'test one' });
  });

  it("reprs str like Python's repr", () => {
    expect(pythonStrRepr('known to be broken')).toBe("'known to be broken'");
    expect(pythonStrRepr("it's")).toBe('"it\'s"');
    expect(pythonStrRepr('a\'b"c')).toBe("'a\\'b\"c'");
    expect(pythonStrRepr('é\n\t\x01\\')).toBe("'é\\n\\t\\x01\\\\'");
    expect(pythonStrRepr('\u00a0\u2028')).toBe("'\\xa0\\u2028'");
  });
});
