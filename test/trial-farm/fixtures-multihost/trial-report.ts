/**
 * What a trial report (Twisted's tree reporter, which `ampstate trial` prints as well) says about
 * each test: the `module / Class / test_name ... [OUTCOME]` lines, by test id. Under -j a class
 * header may repeat as tests finish out of order; the id is built from the latest headers.
 */

/** Test id → every outcome tag printed for it (`OK`, `FAIL`, `ERROR`, `SKIPPED`, `TODO`, `SUCCESS!?!`). */
export function outcomesByTest(report: string): Map<string, string[]> {
  const outcomes = new Map<string, string[]>();
  let module = '';
  let testClass = '';
  for (const line of report.split('\n')) {
    if (line.startsWith('=====') || line.startsWith('-----')) break;
    const test = /^ {4}(\S+) \.\.\. +\[([^\]]+)\]$/.exec(line);
    if (test !== null) {
      const id = `${module}.${testClass}.${test[1]}`;
      outcomes.set(id, [...(outcomes.get(id) ?? []), test[2]!]);
    } else if (/^ {2}\S+$/.test(line)) testClass = line.trim();
    else if (/^[\w.]+$/.test(line)) module = line;
  }
  return outcomes;
}

/** The last non-empty line: `PASSED (successes=3)`, `FAILED (…)`. */
export function summaryLine(report: string): string {
  return report.trimEnd().split('\n').pop() ?? '';
}

/** `Ran N tests in …`. */
export function testsRun(report: string): number | undefined {
  const match = /^Ran (\d+) tests? in /m.exec(report);
  return match === null ? undefined : Number(match[1]);
}

/** The counters of a summary line (`errors=1, successes=4` → { errors: 1, successes: 4 }), summed as a total too. */
export function summaryCounts(line: string): { counts: Record<string, number>; total: number } {
  const counts: Record<string, number> = {};
  for (const match of line.matchAll(/(\w+)=(\d+)/g)) counts[match[1]!] = Number(match[2]);
  return { counts, total: Object.values(counts).reduce((sum, count) => sum + count, 0) };
}
