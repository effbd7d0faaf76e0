/**
 * bench/trial: wall time of a whole distributed trial run, ampstate's manager
 * against Twisted's own (`python3 -m twisted.trial -j N`), same suite, same -j, in one run.
 *
 * Both are measured as what a user runs: a fresh process in a fresh directory, from start to exit
 * (interpreter start, test listing, worker start-up, every Run, shutdown). The ampstate side is
 * `node` running the compiled manager (the `ampstate trial` command's code path); the workers are
 * Twisted's stock workertrial.py in both cases. Runs alternate (ours, theirs, ours, …) so machine
 * noise hits both alike; the best of `REPEATS` is kept and the median shown too.
 *
 * Run through bench/run.ts (`npm run bench -- trial`). Goal: ampstate is no slower (ratio ≤ 1).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = /[\\/]dist[\\/]bench$/.test(HERE) ? resolve(HERE, '../..') : resolve(HERE, '..');
const MANAGER = join(ROOT, 'dist/actors/trial/manager.js');
const PYTHON = process.env.AMPSTATE_PYTHON ?? '/usr/bin/python3';
const SUITE = ['twisted.test.test_amp', 'twisted.trial.test.test_runner'];
const JOBS = 2;
const REPEATS = 5;

interface Timed {
  readonly seconds: number;
  /** User + system CPU of the whole process tree (workers included, even those not waited for). */
  readonly cpu: number;
  readonly summary: string;
  readonly code: number | null;
}

/**
 * Runs a command from a small Python parent that is a child subreaper: it times the command until
 * it exits (the wall time a user sees), then reaps every orphaned descendant (Twisted 22.4's manager
 * does not wait for its workers) so that RUSAGE_CHILDREN covers the whole tree.
 */
const TIMER = [
  'import ctypes, json, os, resource, subprocess, sys, time',
  'ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER',
  'start = time.monotonic()',
  'proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)',
  'out = proc.communicate()[0]',
  'wall = time.monotonic() - start',
  'while True:',
  '    try:',
  '        os.wait()',
  '    except ChildProcessError:',
  '        break',
  'usage = resource.getrusage(resource.RUSAGE_CHILDREN)',
  'lines = [l for l in out.decode("utf-8", "replace").splitlines() if l.strip()]',
  'print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "code": proc.returncode, "summary": lines[-1] if lines else ""}))',
].join('\n');

function timeProcess(command: string, args: readonly string[]): Promise<Timed> {
  const cwd = mkdtempSync(join(tmpdir(), 'ampstate-bench-trial-'));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(PYTHON, ['-c', TIMER, command, ...args], {
      cwd,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', AMPSTATE_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (out += text));
    child.on('error', reject);
    child.on('close', () => {
      rmSync(cwd, { recursive: true, force: true });
      try {
        const timed = JSON.parse(out) as { wall: number; cpu: number; code: number | null; summary: string };
        resolvePromise({ seconds: timed.wall, cpu: timed.cpu, summary: timed.summary, code: timed.code });
      } catch (error) {
        reject(new Error(`bench timer printed no JSON: ${out}`, { cause: error }));
      }
    });
  });
}

function ampstateRun(spawnMode: 'eager' | 'lazy'): Promise<Timed> {
  const script = [
    `import { runTrial } from ${JSON.stringify(pathToFileURL(MANAGER).href)};`,
    `const summary = await runTrial({ names: ${JSON.stringify(SUITE)}, jobs: ${JOBS}, python: ${JSON.stringify(PYTHON)}, spawn: '${spawnMode}' });`,
    'process.exitCode = summary.passed ? 0 : 1;',
  ].join('\n');
  return timeProcess(process.execPath, ['--input-type=module', '-e', script]);
}

function twistedRun(): Promise<Timed> {
  return timeProcess(PYTHON, ['-m', 'twisted.trial', '-j', String(JOBS), ...SUITE]);
}

function stats(runs: readonly Timed[]): { best: number; median: number; cpu_median: number; runs: number[] } {
  const seconds = runs.map((r) => r.seconds).sort((a, b) => a - b);
  return {
    best: round(seconds[0]!),
    median: round(seconds[Math.floor(seconds.length / 2)]!),
    cpu_median: round(median(runs.map((r) => r.cpu))),
    runs: runs.map((r) => round(r.seconds)),
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export async function run(options: { json: boolean }): Promise<Record<string, unknown>> {
  const probe = spawnSync(PYTHON, ['-c', 'import twisted.trial._dist.workertrial, twisted; print(twisted.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    const reason = `${PYTHON} with Twisted is not available`;
    if (!options.json) process.stdout.write(`trial: skipped (${reason})\n`);
    return { skipped: reason };
  }
  // Warm the page cache for both sides; not counted.
  await ampstateRun('eager');
  await twistedRun();
  const eager: Timed[] = [];
  const lazy: Timed[] = [];
  const twisted: Timed[] = [];
  for (let i = 0; i < REPEATS; i++) {
    eager.push(await ampstateRun('eager'));
    twisted.push(await twistedRun());
    lazy.push(await ampstateRun('lazy'));
  }
  const ours = stats(eager);
  const theirs = stats(twisted);
  const oursLazy = stats(lazy);
  const result = {
    suite: SUITE,
    jobs: JOBS,
    twisted: probe.stdout.trim(),
    repeats: REPEATS,
    ampstate_seconds: ours,
    ampstate_lazy_seconds: oursLazy,
    twisted_seconds: theirs,
    /** ampstate best / Twisted best: ≤ 1 means ampstate is no slower. */
    ratio: round(ours.best / theirs.best),
    ratio_median: round(ours.median / theirs.median),
    ratio_lazy: round(oursLazy.best / theirs.best),
    /** Median of ours/theirs over the back-to-back pairs: the steadiest figure on a busy machine. */
    ratio_pairs_median: round(median(eager.map((r, i) => r.seconds / twisted[i]!.seconds))),
    /** CPU seconds of the whole process tree, ours / theirs (medians). */
    cpu_ratio: round(ours.cpu_median / theirs.cpu_median),
    summaries: { ampstate: eager[0]!.summary, twisted: twisted[0]!.summary },
    same_summary: eager.every((r) => r.summary === twisted[0]!.summary) && twisted.every((r) => r.summary === twisted[0]!.summary),
  };
  if (!options.json) {
    const line = (name: string, s: ReturnType<typeof stats>) =>
      `  ${name.padEnd(34)} best ${s.best.toFixed(3)} s   median ${s.median.toFixed(3)} s   CPU ${s.cpu_median.toFixed(2)} s   runs ${s.runs.join(' ')}\n`;
    process.stdout.write(
      `trial: ${SUITE.join(' ')} with -j ${JOBS} (Twisted ${result.twisted}), wall time of a whole run, best of ${REPEATS}\n` +
        line('ampstate manager (eager spawn)', ours) +
        line('ampstate manager (lazy spawn)', oursLazy) +
        line('python3 -m twisted.trial', theirs) +
        `  ratio ampstate/Twisted: best ${result.ratio}, medians ${result.ratio_median}, median of back-to-back pairs ${result.ratio_pairs_median}; lazy best ${result.ratio_lazy}; CPU ${result.cpu_ratio} — goal ≤ 1\n` +
        `  summaries: ampstate "${result.summaries.ampstate}", Twisted "${result.summaries.twisted}"${result.same_summary ? '' : ' (DIFFERENT!)'}\n`,
    );
  }
  return result;
}
