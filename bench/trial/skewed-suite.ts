/**
 * The skewed suite of bench/trial.ts, written as a Python package into a temp directory: many fast
 * tests and a few slow ones whose module sorts last, so trial's order (modules and methods by name)
 * hands the slow ones out at the very end — what happens naturally in a real suite whose slow
 * integration module is called `test_slow`/`test_zz_integration`.
 *
 * The slow tests are 1 s, 1 s and 2 s, in that (name) order, which is the unlucky case for trial's
 * order: with -j 2 the 2 s test starts only when the first 1 s test ends, and runs alone for its
 * last second. Longest first starts it at once and the two 1 s tests share the other worker: about
 * 1 s less wall time. With other slow durations (say 2 s sorted first) trial's order is already
 * balanced and ordering cannot gain anything; the bench shows the case ordering exists for, not an
 * average one. The fast tests do almost nothing, but each Run still costs workertrial ~5–10 ms, so
 * they add a few seconds of worker time that longest-first ordering fits around the slow ones.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SKEWED_PACKAGE = 'ampstate_skew_bench';
const FAST_MODULES = 6;
const FAST_PER_MODULE = 50;
/** Seconds each slow test sleeps, in trial's (name) order. */
export const SLOW_SECONDS = [1, 1, 2] as const;
export const SKEWED_TEST_COUNT = FAST_MODULES * FAST_PER_MODULE + SLOW_SECONDS.length;

/** The fast modules alone (the farm overhead figure uses them: nearly no test work, so per-test costs show). */
export const FAST_MODULE_NAMES = Array.from({ length: FAST_MODULES }, (_, m) => `${SKEWED_PACKAGE}.test_fast_${String.fromCharCode(97 + m)}`);

/** Writes the package under `directory` (which goes on PYTHONPATH); returns the name to run. */
export function writeSkewedSuite(directory: string): string {
  const root = join(directory, SKEWED_PACKAGE);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, '__init__.py'), '');
  for (let m = 0; m < FAST_MODULES; m++) {
    const letter = String.fromCharCode(97 + m);
    const methods = Array.from({ length: FAST_PER_MODULE }, (_, i) => `    def test_${String(i).padStart(3, '0')}(self):\n        self.assertEqual(sum(range(100)), 4950)\n`);
    writeFileSync(join(root, `test_fast_${letter}.py`), `from twisted.trial import unittest\n\n\nclass Fast${letter.toUpperCase()}Tests(unittest.TestCase):\n${methods.join('')}`);
  }
  const slow = SLOW_SECONDS.map((seconds, i) => `    def test_slow_${i + 1}(self):\n        time.sleep(${seconds})\n`);
  writeFileSync(join(root, 'test_slow.py'), `import time\n\nfrom twisted.trial import unittest\n\n\nclass SlowTests(unittest.TestCase):\n${slow.join('')}`);
  return SKEWED_PACKAGE;
}
