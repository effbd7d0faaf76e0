import { execFile } from 'node:child_process';
import { delimiter } from 'node:path';
import { sourceAsset } from './assets.js';
import { TestListingError, TwistedNotFoundError } from './errors.js';

/**
 * What the manager needs from the Python side: the interpreter's `sys.path` (workers get it as
 * `PYTHONPATH`, docs/trial-protocol.md §1.1), the absolute path of `workertrial.py`, and the test ids the names expand
 * to. `list_tests.py` gives all three in one interpreter start; `probePython` gives the first two
 * in ~20 ms without importing the tests (only the packages above workertrial), so workers can start
 * while the tests are being listed.
 */
export interface PythonEnvironment {
  /** sys.path as `python -m twisted.trial` has it: the cwd first. */
  readonly sysPath: readonly string[];
  readonly workertrial: string;
}

export interface PythonTestList extends PythonEnvironment {
  readonly ids: readonly string[];
  /** `suite.countTestCases()`, what trial prints as `Running N tests.` */
  readonly count: number;
  readonly twisted: string;
}

function run(python: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(python, [...args], { cwd, env, maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const detail = stderrDetail(stderr || error.message);
        reject(Object.assign(error, { detail }));
      } else resolve(stdout);
    });
  });
}

// find_spec imports the parent packages only (twisted, twisted.trial, twisted.trial._dist), not
// workertrial itself, so this costs an interpreter start and little more.
const PROBE = [
  'import importlib.util, json, os, sys',
  'sys.path[0] = os.getcwd()',
  'spec = importlib.util.find_spec("twisted.trial._dist.workertrial")',
  'print(json.dumps({"sysPath": sys.path, "workertrial": os.path.abspath(spec.origin) if spec else None}))',
].join('\n');

export async function probePython(python: string, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<PythonEnvironment> {
  let stdout: string;
  try {
    stdout = await run(python, ['-c', PROBE], cwd, env);
  } catch (error) {
    throw new TwistedNotFoundError(python, (error as { detail?: string }).detail ?? String(error));
  }
  const parsed = JSON.parse(stdout) as { sysPath: string[]; workertrial: string | null };
  if (parsed.workertrial === null) throw new TwistedNotFoundError(python, 'twisted.trial._dist.workertrial is not importable');
  return { sysPath: parsed.sysPath, workertrial: parsed.workertrial };
}

export async function listPythonTests(
  python: string,
  names: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<PythonTestList> {
  let stdout: string;
  try {
    stdout = await run(python, [sourceAsset('list_tests.py'), ...names], cwd, env);
  } catch (error) {
    throw listingFailure(python, (error as { detail?: string }).detail ?? String(error));
  }
  return parseTestList(stdout);
}

/** Why list_tests.py failed, from the last lines of its stderr. */
export function listingFailure(python: string, detail: string): TwistedNotFoundError | TestListingError {
  if (/No module named '?twisted/.test(detail)) return new TwistedNotFoundError(python, detail);
  return new TestListingError(`listing trial tests with ${python} failed: ${detail}`);
}

/** The JSON line list_tests.py ends its output with. */
export function parseTestList(output: string): PythonTestList {
  const line = output.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as PythonTestList;
  } catch {
    throw new TestListingError(`list_tests.py printed no JSON: ${output.slice(-500)}`);
  }
}

/** The last lines of a failed Python's stderr, on one line. */
export function stderrDetail(stderr: string): string {
  return stderr.trim().split('\n').slice(-3).join(' | ');
}

/** The worker environment: ours, with PYTHONPATH replaced by the manager interpreter's sys.path. */
export function workerEnvironment(sysPath: readonly string[], env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, PYTHONPATH: sysPath.join(delimiter) };
}
