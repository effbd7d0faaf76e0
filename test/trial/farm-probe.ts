/** A small trial package for the farm tests, written into a directory at test time. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PROBE_MODULE = 'farmprobe.test_farm';

/** A package in `cwd` with `count` passing tests; each prints LOSE-HOST first on a fake host told to lose itself. */
export function writeProbe(cwd: string, count: number): void {
  mkdirSync(join(cwd, 'farmprobe'), { recursive: true });
  writeFileSync(join(cwd, 'farmprobe', '__init__.py'), '');
  const tests = Array.from({ length: count }, (_, i) => `    def test_${String(i).padStart(2, '0')}(self):\n        lose_host_here()\n`);
  writeFileSync(
    join(cwd, 'farmprobe', 'test_farm.py'),
    [
      'import os, time',
      'from twisted.trial import unittest',
      'def lose_host_here():',
      "    if os.environ.get('AMPSTATE_FAKE_FARM') == 'lose':",
      "        os.write(1, b'LOSE-HOST\\n')",
      '        time.sleep(600)',
      'class FarmTests(unittest.TestCase):',
      ...tests,
    ].join('\n'),
  );
}
