/**
 * bench/trial: wall time of a whole distributed trial run, ampstate's manager against Twisted's own
 * (`python3 -m twisted.trial -j 2`), same tests, same -j, in one run.
 *
 * Both are measured as what a user runs: a fresh process from start to exit (interpreter start,
 * test listing, worker start-up, every Run, shutdown); the workers are Twisted's stock
 * workertrial.py in both cases. The ampstate side is `node` running the compiled manager (the
 * `ampstate trial` command's code path) in a directory it keeps between runs, so its duration cache
 * (.ampstate-trial-durations.json) is warm: one untimed warm-up run records the durations, as a
 * developer's first run would. Runs alternate (ours, theirs, ours, …) so machine noise hits both
 * alike; each side is run `REPEATS` times and the medians are compared. Every run of both sides must
 * print the same summary line (same counts), or the bench fails.
 *
 * Suites:
 * - skewed: 300 fast tests and three slow ones (1 s, 1 s, 2 s) whose module sorts last
 *   (bench/trial/skewed-suite.ts explains why that is the case ordering is for). Shown also with
 *   ampstate in trial's order (`durations: false`), so the gain of ordering is told apart from the
 *   manager's own speed. Goal: ≤ 0.8× Twisted's wall time.
 * - twisted: Twisted's own test_amp and test_runner, which pass when run like this. Goal: ≤ 1.
 *
 * Farm overhead per test: the skewed suite's 300 fast tests with -j 2 local trial workers and with
 * 2 on one farm worker on loopback, in this process (bench/trial/farm-overhead.ts), median of
 * `REPEATS` each: (farm − local) / tests in ms.
 *
 * Run through bench/run.ts (`npm run bench -- trial [--json]`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { measureFarmOverhead, type FarmOverhead } from './trial/farm-overhead.js';
import { FAST_MODULE_NAMES, SKEWED_TEST_COUNT, SLOW_SECONDS, writeSkewedSuite } from './trial/skewed-suite.js';
import { PYTHON, median, round, stats, timeProcess, type Stats, type Timed } from './trial/timing.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = /[\\/]dist[\\/]bench$/.test(HERE) ? resolve(HERE, '../..') : resolve(HERE, '..');
const MANAGER = join(ROOT, 'dist/actors/trial/manager.js');
const TWISTED_SUITE = ['twisted.test.test_amp', 'twisted.trial.test.test_runner'];
const JOBS = 2;
const REPEATS = 5;

interface Suite {
  readonly key: 'skewed' | 'twisted';
  readonly title: string;
  readonly names: readonly string[];
  /** Added to the environment of both sides (the skewed package's directory on PYTHONPATH). */
  readonly env: NodeJS.ProcessEnv;
  /** Also time ampstate in trial's order. */
  readonly unordered: boolean;
  readonly goal: number;
}

function ampstateRun(suite: Suite, cwd: string, durations: boolean): Promise<Timed> {
  const script = [
    `import { runTrial } from ${JSON.stringify(pathToFileURL(MANAGER).href)};`,
    `const summary = await runTrial({ names: ${JSON.stringify(suite.names)}, jobs: ${JOBS}, python: ${JSON.stringify(PYTHON)}, durations: ${durations} });`,
    'process.exitCode = summary.passed ? 0 : 1;',
  ].join('\n');
  return timeProcess(process.execPath, ['--input-type=module', '-e', script], cwd, suite.env);
}

function twistedRun(suite: Suite, cwd: string): Promise<Timed> {
  return timeProcess(PYTHON, ['-m', 'twisted.trial', '-j', String(JOBS), ...suite.names], cwd, suite.env);
}

interface SuiteResult {
  readonly names: readonly string[];
  readonly summary: string;
  readonly ampstate_seconds: Stats;
  readonly ampstate_trial_order_seconds?: Stats;
  readonly twisted_seconds: Stats;
  /** Medians, ampstate / Twisted: the figure the goal is about. */
  readonly ratio: number;
  /** Median of ours/theirs over the back-to-back pairs: the steadiest figure on a busy machine. */
  readonly ratio_pairs_median: number;
  readonly ratio_trial_order?: number;
  /** CPU seconds of the whole process tree, ours / theirs (medians). */
  readonly cpu_ratio: number;
  readonly goal: number;
}

async function measure(suite: Suite, scratch: string): Promise<SuiteResult> {
  const ours = mkdtempSync(join(scratch, `${suite.key}-ampstate-`));
  const oursUnordered = mkdtempSync(join(scratch, `${suite.key}-ampstate-no-cache-`));
  const theirs = mkdtempSync(join(scratch, `${suite.key}-twisted-`));
  // Untimed: records the durations in ours/.ampstate-trial-durations.json and warms the page cache.
  await ampstateRun(suite, ours, true);
  await twistedRun(suite, theirs);
  const ordered: Timed[] = [];
  const unordered: Timed[] = [];
  const twisted: Timed[] = [];
  for (let i = 0; i < REPEATS; i++) {
    ordered.push(await ampstateRun(suite, ours, true));
    twisted.push(await twistedRun(suite, theirs));
    if (suite.unordered) unordered.push(await ampstateRun(suite, oursUnordered, false));
  }
  const all = [...ordered, ...unordered, ...twisted];
  const summary = twisted[0]!.summary;
  const different = all.filter((run) => run.summary !== summary || !summary.startsWith('PASSED'));
  if (different.length > 0) {
    const odd = different[0]!;
    throw new Error(
      `trial bench (${suite.key}): the runs disagree on the counts: ${JSON.stringify([...new Set(all.map((run) => run.summary))])}; ` +
        `one run that differs exited ${odd.code} saying ${JSON.stringify(odd.stderr.join('\n'))}`,
    );
  }
  const o = stats(ordered);
  const t = stats(twisted);
  const u = suite.unordered ? stats(unordered) : undefined;
  return {
    names: suite.names,
    summary,
    ampstate_seconds: o,
    ...(u === undefined ? {} : { ampstate_trial_order_seconds: u, ratio_trial_order: round(u.median / t.median) }),
    twisted_seconds: t,
    ratio: round(o.median / t.median),
    ratio_pairs_median: round(median(ordered.map((run, i) => run.seconds / twisted[i]!.seconds))),
    cpu_ratio: round(o.cpu_median / t.cpu_median),
    goal: suite.goal,
  };
}

function describe(suite: Suite, result: SuiteResult): string {
  const line = (name: string, s: Stats) =>
    `  ${name.padEnd(38)} median ${s.median.toFixed(3)} s   best ${s.best.toFixed(3)} s   CPU ${s.cpu_median.toFixed(2)} s   runs ${s.runs.join(' ')}\n`;
  return (
    `trial ${suite.key}: ${suite.title}, -j ${JOBS}, median of ${REPEATS} (${result.summary})\n` +
    line('ampstate, warmed duration cache', result.ampstate_seconds) +
    (result.ampstate_trial_order_seconds === undefined ? '' : line("ampstate, trial's order (no cache)", result.ampstate_trial_order_seconds)) +
    line(`python3 -m twisted.trial -j ${JOBS}`, result.twisted_seconds) +
    `  ratio ampstate/Twisted: ${result.ratio} (goal ≤ ${suite.goal}${result.ratio <= suite.goal ? ', met' : ', NOT met'}), back-to-back pairs ${result.ratio_pairs_median}` +
    (result.ratio_trial_order === undefined ? '' : `, in trial's order ${result.ratio_trial_order}`) +
    `; CPU ${result.cpu_ratio}\n`
  );
}

export async function run(options: { json: boolean }): Promise<Record<string, unknown>> {
  const probe = spawnSync(PYTHON, ['-c', 'import twisted.trial._dist.workertrial, twisted; print(twisted.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    const reason = `${PYTHON} with Twisted is not available`;
    if (!options.json) process.stdout.write(`trial: skipped (${reason})\n`);
    return { skipped: reason };
  }
  const scratch = mkdtempSync(join(tmpdir(), 'ampstate-bench-trial-'));
  try {
    const modules = join(scratch, 'modules');
    const skewedName = writeSkewedSuite(modules);
    const suites: Suite[] = [
      {
        key: 'skewed',
        title: `${SKEWED_TEST_COUNT} tests, ${SKEWED_TEST_COUNT - SLOW_SECONDS.length} fast and ${SLOW_SECONDS.map((s) => `${s} s`).join(', ')} sorted last`,
        names: [skewedName],
        env: { PYTHONPATH: [modules, process.env.PYTHONPATH].filter(Boolean).join(':') },
        unordered: true,
        goal: 0.8,
      },
      { key: 'twisted', title: TWISTED_SUITE.join(' '), names: TWISTED_SUITE, env: {}, unordered: false, goal: 1 },
    ];
    const results: Record<string, SuiteResult> = {};
    for (const suite of suites) {
      const result = await measure(suite, scratch);
      results[suite.key] = result;
      if (!options.json) process.stdout.write(describe(suite, result));
    }
    let farm: FarmOverhead | { error: string };
    try {
      farm = await measureFarmOverhead({ names: FAST_MODULE_NAMES, pythonPath: modules, python: PYTHON, scratch, repeats: REPEATS });
      if (!options.json) {
        process.stdout.write(
          `trial farm overhead: ${farm.tests} fast tests, -j 2 local median ${farm.local_median.toFixed(3)} s, 2 on one loopback farm worker median ${farm.farm_median.toFixed(3)} s: ` +
            `${farm.overhead_ms_per_test.toFixed(2)} ms per test\n`,
        );
      }
    } catch (error) {
      // The suites' numbers stand on their own; say why this one is missing.
      farm = { error: error instanceof Error ? error.message : String(error) };
      if (!options.json) process.stdout.write(`trial farm overhead: not measured (${farm.error})\n`);
    }
    return { jobs: JOBS, twisted: probe.stdout.trim(), repeats: REPEATS, suites: results, farm_overhead: farm };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
