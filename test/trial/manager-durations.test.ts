/**
 * The duration cache in real runs (stock Twisted 22.4 workers): the first run records every test,
 * the second hands the recorded slow test out first, and the report says the same things either way
 * (the tree lists tests in completion order, as trial -j does, so only the order of lines changes).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { DURATION_CACHE_NAME, parseCache } from '../../actors/trial/duration-cache.js';
import type { TrialEvent } from '../../actors/trial/results.js';
import { TRIAL_RUN_TIMEOUT, TWISTED_22_4, describeEachTwisted, freshDirectory, runManager } from './helpers.js';

const SLOW = 'skewpkg.test_skew.SkewTests.test_z_slow';

/** A package whose one slow test sorts last in trial's order (by name), as in real suites. */
function skewedPackage(): string {
  const modules = freshDirectory('ampstate-trial-skew-');
  mkdirSync(join(modules, 'skewpkg'));
  writeFileSync(join(modules, 'skewpkg', '__init__.py'), '');
  const fast = Array.from({ length: 6 }, (_, i) => `    def test_fast_${i}(self):\n        pass\n`).join('');
  writeFileSync(
    join(modules, 'skewpkg', 'test_skew.py'),
    `import time\nfrom twisted.trial import unittest\nclass SkewTests(unittest.TestCase):\n${fast}    def test_z_slow(self):\n        time.sleep(1)\n    def test_y_fails(self):\n        self.fail("recorded too")\n`,
  );
  return modules;
}

const testsInOrder = (events: readonly TrialEvent[]) => events.flatMap((e) => (e.type === 'test' ? [e.test] : []));
/** The report's lines, sorted, without the timing line: what it says, not in which order. */
const reportContent = (output: string) => output.split('\n').filter((line) => !/^Ran \d+ tests in /.test(line)).sort();

describeEachTwisted('trial manager duration cache', (twisted) => {
  it('records the first run and dispatches the recorded slow test first in the next one', async () => {
    const modules = skewedPackage();
    const cwd = freshDirectory();
    // One worker: dispatch order is completion order, which events$ shows.
    const first = await runManager(twisted, ['skewpkg'], { cwd, jobs: 1 }, [modules]);
    expect(testsInOrder(first.events).at(-1)).toBe(SLOW);
    const cache = parseCache(readFileSync(join(cwd, DURATION_CACHE_NAME), 'utf8')).cache!;
    // Every test but the worker's first, whose time includes the worker's start-up.
    expect(Object.keys(cache.tests).sort()).toEqual(testsInOrder(first.events).slice(1).sort());
    // The sleep is a lower bound, not a timing guess.
    expect(cache.tests[SLOW]!.ms).toBeGreaterThanOrEqual(1000);
    expect(cache.tests['skewpkg.test_skew.SkewTests.test_y_fails']).toBeDefined();

    const second = await runManager(twisted, ['skewpkg'], { cwd, jobs: 1 }, [modules]);
    expect(testsInOrder(second.events)[0]).toBe(SLOW);
    expect(second.summary.line).toBe(first.summary.line);
    expect(second.summary.line).toBe('FAILED (failures=1, successes=7)');
    expect(reportContent(second.output)).toEqual(reportContent(first.output));
    expect(parseCache(readFileSync(join(cwd, DURATION_CACHE_NAME), 'utf8')).cache!.runs).toBe(2);
  }, TRIAL_RUN_TIMEOUT);

  it('keeps trial order and writes nothing with durations: false', async () => {
    const modules = skewedPackage();
    const cwd = freshDirectory();
    const first = await runManager(twisted, ['skewpkg'], { cwd, jobs: 1, durations: false }, [modules]);
    expect(testsInOrder(first.events).at(-1)).toBe(SLOW);
    expect(existsSync(join(cwd, DURATION_CACHE_NAME))).toBe(false);
  }, TRIAL_RUN_TIMEOUT);
}, [TWISTED_22_4]);
