import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { lastValueFrom, toArray } from 'rxjs';
import { TrialManager, type TrialManagerOptions } from '../../actors/trial/manager.js';
import type { TrialEvent, TrialSummary } from '../../actors/trial/results.js';
import { fileURLToPath } from 'node:url';
import { TWISTED_22_4, peerEnv, type TwistedPeer } from '../support/twisted-peers.js';
import { temporaryDirectory } from '../support/temp-directory.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = join(ROOT, 'test/trial/fixtures');
export const JS_FIXTURES = join(ROOT, 'test/trial/js-fixtures');
/** Debian's interpreter has Twisted 22.4; the `python3` on PATH may not. */
export const PYTHON = TWISTED_22_4.python;
export { IN_CI } from '../support/describe-with-peer.js';
export { TWISTED_22_4, TWISTED_24_11, TWISTED_PEERS, describeEachTwisted, type TwistedPeer } from '../support/twisted-peers.js';

/** A fresh directory for a run's cwd (its `_trial_temp` lands there). */
export function freshDirectory(prefix = 'ampstate-trial-'): string {
  return temporaryDirectory(prefix);
}

export interface ProcessResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runProcess(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ProcessResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, [...args], { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/**
 * Environment for Python runs with this Twisted version: its site directories, the fixtures
 * importable, no .pyc files written into the repo.
 */
export function pythonEnv(extraPath: readonly string[] = [], twisted: TwistedPeer = TWISTED_22_4): NodeJS.ProcessEnv {
  return peerEnv(twisted, [...extraPath, FIXTURES]);
}

/** Twisted's own manager: `python -m twisted.trial [-j N] NAME…` in `cwd`. */
export async function twistedTrial(
  jobs: number,
  names: readonly string[],
  cwd: string,
  twisted: TwistedPeer = TWISTED_22_4,
  env = pythonEnv([], twisted),
): Promise<ProcessResult & { summary: string }> {
  const result = await runProcess(twisted.python, ['-m', 'twisted.trial', ...(jobs > 0 ? ['-j', String(jobs)] : []), ...names], { cwd, env });
  const lines = result.stdout.split('\n').filter((line) => line.trim().length > 0);
  return { ...result, summary: lines[lines.length - 1] ?? '' };
}

const DIST_OUTPUTS = ['worker-main.js', 'worker.js', 'node-test-reporter.js', 'node-tests.js'].map((f) => join(ROOT, 'dist/actors/trial', f));
/** The worker's import graph (other developers' folders under actors/ are left out on purpose). */
const SOURCE_DIRS: ReadonlyArray<[string, boolean]> = [['actors', false], ['actors/trial', false], ['codec', true], ['machines', false]];

function newestSource(dir: string, recursive: boolean): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (recursive) newest = Math.max(newest, newestSource(path, true));
    }
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The TypeScript worker runs from dist/. `npm test` builds first; a targeted `vitest run` may find
 * dist/ stale, so the worker's import graph is compiled here when needed (tsc with the project's
 * options, only the worker entry and the reporter as roots), under a lock shared by test files.
 */
export function ensureWorkerBuilt(): void {
  const stale = () => {
    const built = Math.min(...DIST_OUTPUTS.map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0)));
    return built < Math.max(...SOURCE_DIRS.map(([dir, recursive]) => newestSource(join(ROOT, dir), recursive)));
  };
  if (!stale()) return;
  const lock = join(ROOT, 'dist/.trial-build-lock');
  mkdirSync(dirname(lock), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left by a killed run (older than the longest build) is stale.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 300_000) rmdirSync(lock);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (!stale()) return;
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const flags = [
      '--target', 'ES2022', '--lib', 'ES2024', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--strict',
      '--skipLibCheck', '--esModuleInterop', '--isolatedModules', '--verbatimModuleSyntax', '--types', 'node',
      '--sourceMap', '--declaration', '--rootDir', ROOT, '--outDir', join(ROOT, 'dist'),
    ];
    try {
      execFileSync(process.execPath, [tsc, ...flags, 'actors/trial/worker-main.ts', 'actors/trial/node-test-reporter.ts'], { cwd: ROOT, stdio: 'pipe' });
    } catch (error) {
      // Type errors still emit; only missing output is fatal.
      if (stale()) throw new Error(`building the TypeScript trial worker failed: ${String((error as { stdout?: Buffer }).stdout ?? error)}`);
    }
  } finally {
    rmdirSync(lock);
  }
}

export const WORKER_MAIN = join(ROOT, 'dist/actors/trial/worker-main.js');

/** A stream that keeps what is written, synchronously (a PassThrough may deliver after the run ends). */
export function collectingStream(): { stream: NodeJS.WritableStream; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return { stream, text: () => text };
}

/** Timeout of a test that runs Python trial: a second or two alone, far more on a loaded machine. */
export const TRIAL_RUN_TIMEOUT = 180_000;

export interface ManagerRun {
  readonly summary: TrialSummary;
  readonly output: string;
  readonly events: TrialEvent[];
  readonly cwd: string;
}

/** The ampstate manager (`-j 2` unless told) on stock workers of this Twisted version. */
export async function runManager(
  twisted: TwistedPeer,
  names: string[],
  options: Partial<TrialManagerOptions> = {},
  extraPath: string[] = [],
): Promise<ManagerRun> {
  const cwd = options.cwd ?? freshDirectory();
  let output = '';
  const manager = new TrialManager({ names, jobs: 2, python: twisted.python, cwd, env: pythonEnv(extraPath, twisted), output: (s) => (output += s), ...options });
  const events = lastValueFrom(manager.events$.pipe(toArray()));
  const summary = await manager.run();
  return { summary, output, events: await events, cwd };
}

/** The `=====`-separated result blocks of a trial report, by their first test id. */
export function resultBlocks(report: string): Map<string, string> {
  const byTest = new Map<string, string>();
  const body = report.split(`${'-'.repeat(79)}\n`)[0] ?? '';
  for (const block of body.split(`${'='.repeat(79)}\n`).slice(1)) {
    const tests = block.trimEnd().split('\n\n').pop()!.split('\n');
    byTest.set(tests[0]!, block);
  }
  return byTest;
}
