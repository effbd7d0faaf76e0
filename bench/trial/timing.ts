/**
 * Timing of whole test-runner processes for bench/trial.ts: wall time from start to exit, CPU time
 * of the whole process tree, and the runner's last line (trial's summary), plus the statistics the
 * bench prints.
 */
import { spawn } from 'node:child_process';

export const PYTHON = process.env.AMPSTATE_PYTHON ?? '/usr/bin/python3';

export interface Timed {
  readonly seconds: number;
  /** User + system CPU of the whole process tree (workers included, even those not waited for). */
  readonly cpu: number;
  /** The last non-empty line of stdout: trial's summary (`PASSED (successes=305)`). */
  readonly summary: string;
  readonly code: number | null;
  /** The last lines the runner wrote to stderr (why a run went wrong). */
  readonly stderr: readonly string[];
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
  'proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)',
  'out, err = proc.communicate()',
  'wall = time.monotonic() - start',
  'while True:',
  '    try:',
  '        os.wait()',
  '    except ChildProcessError:',
  '        break',
  'usage = resource.getrusage(resource.RUSAGE_CHILDREN)',
  'lines = [l for l in out.decode("utf-8", "replace").splitlines() if l.strip()]',
  'errors = err.decode("utf-8", "replace").strip().splitlines()[-5:]',
  'print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "code": proc.returncode, "summary": lines[-1] if lines else "", "stderr": errors}))',
].join('\n');

/** Times `command args…` run in `cwd` with `env` added to this process's environment. */
export function timeProcess(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Timed> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(PYTHON, ['-c', TIMER, command, ...args], {
      cwd,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', AMPSTATE_LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (out += text));
    child.on('error', reject);
    child.on('close', () => {
      try {
        const timed = JSON.parse(out) as { wall: number; cpu: number; code: number | null; summary: string; stderr: string[] };
        resolvePromise({ seconds: timed.wall, cpu: timed.cpu, summary: timed.summary, code: timed.code, stderr: timed.stderr });
      } catch (error) {
        reject(new Error(`bench timer printed no JSON: ${out}`, { cause: error }));
      }
    });
  });
}

export interface Stats {
  readonly best: number;
  readonly median: number;
  readonly cpu_median: number;
  readonly runs: number[];
}

export function stats(runs: readonly Timed[]): Stats {
  const seconds = runs.map((r) => r.seconds);
  return {
    best: round(Math.min(...seconds)),
    median: round(median(seconds)),
    cpu_median: round(median(runs.map((r) => r.cpu))),
    runs: seconds.map(round),
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
