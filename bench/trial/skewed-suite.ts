/**
 * The skewed suite of bench/trial.ts, written as a Python package into a temp directory: 300 fast
 * tests and three slow ones whose module sorts last, so trial's order (modules and methods by name)
 * hands the slow ones out at the very end — what happens naturally in a real suite whose slow
 * integration module is called `test_slow`/`test_zz_integration`.
 *
 * Each fast test sleeps 10 ms (a typical unit test's I/O); each Run also costs workertrial ~5 ms.
 * The slow tests are 1 s, 1 s and 3 s, in that (name) order: with -j 2 trial's order runs the fast
 * tests, then the two 1 s tests side by side, then the 3 s one alone. Longest first starts the 3 s
 * test at once and fits the rest around it, so both workers end together. With other slow
 * durations (say the 3 s test sorted first, or an even number of equal ones) trial's order is
 * already balanced and ordering gains nothing; the bench shows the case ordering exists for, not
 * an average one.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SKEWED_PACKAGE = 'ampstate_skew_bench';
const FAST_MODULES = 6;
const FAST_PER_MODULE = 50;
/** Seconds each slow test sleeps, in trial's (name) order. */
export const SLOW_SECONDS = [1, 1, 3] as const;
export const SKEWED_TEST_COUNT = FAST_MODULES * FAST_PER_MODULE + SLOW_SECONDS.length;

/** The fast modules alone: the farm overhead figure runs them on local and on farm workers. */
export const FAST_MODULE_NAMES = Array.from({ length: FAST_MODULES }, (_, m) => `${SKEWED_PACKAGE}.test_fast_${String.fromCharCode(97 + m)}`);

/** Writes the package under `directory` (which goes on PYTHONPATH); returns the name to run. */
export function writeSkewedSuite(directory: string): string {
  const root = join(directory, SKEWED_PACKAGE);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, '__init__.py'), '');
  for (let m = 0; m < FAST_MODULES; m++) {
    const letter = String.fromCharCode(97 + m);
    const methods = Array.from({ length: FAST_PER_MODULE }, (_, i) => `    def test_${String(i).padStart(3, '0')}(self):\n        time.sleep(0.01)\n`);
    writeFileSync(join(root, `test_fast_${letter}.py`), `import time\n\nfrom twisted.trial import unittest\n\n\nclass Fast${letter.toUpperCase()}Tests(unittest.TestCase):\n${methods.join('')}`);
  }
  const slow = SLOW_SECONDS.map((seconds, i) => `    def test_slow_${i + 1}(self):\n        time.sleep(${seconds})\n`);
  writeFileSync(join(root, 'test_slow.py'), `import time\n\nfrom twisted.trial import unittest\n\n\nclass SlowTests(unittest.TestCase):\n${slow.join('')}`);
  return SKEWED_PACKAGE;
}
