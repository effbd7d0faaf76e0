import { spawn } from 'node:child_process';
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compiledAsset } from './assets.js';
import type { NodeTestErrorInfo, NodeTestLine } from './node-test-reporter.js';
import type { TrialFrame, TrialOutcome } from './results.js';
import { NODE_ID_SEPARATOR, formatNodeId, parseNodeId } from './test-ids.js';

/**
 * The node:test adapter of the TypeScript worker: runs one test id (see test-ids.ts) in a child
 * `node` process, with our JSON reporter on fd 3 and the test's stdout/stderr captured, and maps
 * what happened to trial outcomes:
 *
 * | node:test                                  | trial                                        |
 * |--------------------------------------------|----------------------------------------------|
 * | pass                                       | AddSuccess                                   |
 * | fail, AssertionError thrown by the test    | AddFailure `builtins.AssertionError`         |
 * | fail, anything else                        | AddError (class table below)                 |
 * | `skip` option / `t.skip()`                 | AddSkip (reason, or '' for a bare skip)      |
 * | `todo` test that fails                     | AddExpectedFailure                           |
 * | `todo` test that passes                    | AddUnexpectedSuccess                         |
 * | stdout/stderr of the test process          | TestWrite, one per line                      |
 */

/** What one test reported, in the worker's terms (before choosing a dialect). */
export interface WorkerOutcome {
  readonly kind: TrialOutcome;
  readonly testName: string;
  readonly message?: string;
  readonly errorClass?: string;
  readonly frames?: readonly TrialFrame[];
  readonly reason?: string;
  readonly todo?: string;
}

/** trial's default todo text when a test has no reason (WorkerReporter._DEFAULT_TODO). */
export const DEFAULT_TODO = 'Test expected to fail';

/**
 * JS error names → Python classes a Python manager can import (it calls `namedObject` on them).
 * When the Python name differs from the JS one, the JS name is kept at the front of the message.
 */
const PYTHON_CLASSES: Readonly<Record<string, string>> = {
  Error: 'builtins.Exception',
  TypeError: 'builtins.TypeError',
  SyntaxError: 'builtins.SyntaxError',
  RangeError: 'builtins.ValueError',
  URIError: 'builtins.ValueError',
  ReferenceError: 'builtins.NameError',
  EvalError: 'builtins.Exception',
  AggregateError: 'builtins.Exception',
  AssertionError: 'builtins.AssertionError',
};

export function pythonClassFor(error: Pick<NodeTestErrorInfo, 'name' | 'failureType'>): string {
  if (error.failureType === 'testTimeoutFailure') return 'builtins.TimeoutError';
  return PYTHON_CLASSES[error.name] ?? 'builtins.Exception';
}

export function pythonMessageFor(error: Pick<NodeTestErrorInfo, 'name' | 'message' | 'failureType'>): string {
  const pythonName = pythonClassFor(error).slice('builtins.'.length);
  const keepName = error.name !== 'Error' && error.name !== pythonName && error.failureType !== 'testTimeoutFailure';
  return keepName ? `${error.name}: ${error.message}` : error.message;
}

const STACK_LINE = /^\s*at (?:async )?(?:(.*?) \((.*)\)|(.*))$/;

/** V8 stack → trial frames: outermost first, Node's own `node:` frames dropped. */
export function framesFromStack(stack: string): TrialFrame[] {
  const frames: TrialFrame[] = [];
  for (const line of stack.split('\n')) {
    const match = STACK_LINE.exec(line);
    if (match === null) continue;
    const name = match[1] ?? '<anonymous>';
    const location = match[2] ?? match[3] ?? '';
    const position = /^(.*):(\d+):(\d+)$/.exec(location);
    if (position === null) continue;
    let file = position[1]!;
    if (file.startsWith('node:') || file.startsWith('internal/')) continue;
    if (file.startsWith('file://')) {
      try {
        file = fileURLToPath(file);
      } catch {
        continue;
      }
    }
    frames.push({ name, file, line: Number(position[2]) });
  }
  return frames.reverse();
}

export function outcomeFromLine(line: NodeTestLine, testName: string): WorkerOutcome {
  if (line.todo !== undefined) {
    const todo = typeof line.todo === 'string' && line.todo.length > 0 ? line.todo : DEFAULT_TODO;
    if (line.kind === 'fail') return { kind: 'expectedFailure', testName, todo, message: line.error?.message ?? '' };
    return { kind: 'unexpectedSuccess', testName, todo };
  }
  if (line.skip !== undefined) return { kind: 'skip', testName, reason: typeof line.skip === 'string' ? line.skip : '' };
  if (line.kind === 'pass') return { kind: 'success', testName };
  const error = line.error ?? { failureType: undefined, name: 'Error', message: 'test failed', stack: '', isAssertion: false };
  const frames = framesFromStack(error.stack);
  if (error.isAssertion && (error.failureType === undefined || error.failureType === 'testCodeFailure')) {
    return { kind: 'failure', testName, errorClass: 'builtins.AssertionError', message: error.message, frames };
  }
  return { kind: 'error', testName, errorClass: pythonClassFor(error), message: pythonMessageFor(error), frames };
}

export interface NodeRunOptions {
  /** Where the test process runs (the worker's directory after Start). */
  readonly cwd: string;
  /** Base for relative file names in ids (the directory the worker was launched in). */
  readonly root: string;
  /** Extra `node` options for the test process, e.g. `--import=tsx` for TypeScript tests. */
  readonly nodeOptions?: readonly string[];
  readonly execPath?: string;
}

interface ChildRun {
  readonly lines: NodeTestLine[];
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderrTail: string;
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** Runs a test file in a child node process with our reporter writing to its fd 3. */
function runChild(file: string, pattern: string | undefined, options: NodeRunOptions, onOutput: (text: string) => void): Promise<ChildRun> {
  const args = [
    ...(options.nodeOptions ?? []),
    `--test-reporter=${compiledAsset('node-test-reporter.js')}`,
    '--test-reporter-destination=stderr',
    ...(pattern === undefined ? [] : [`--test-name-pattern=${pattern}`]),
    file,
  ];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(options.execPath ?? process.execPath, args, {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      // NODE_TEST_CONTEXT would make a nested node:test child report to its parent, not to us.
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, AMPSTATE_TRIAL_REPORTER_FD: '3' },
    });
    const lines: NodeTestLine[] = [];
    let reporterText = '';
    let stderrTail = '';
    const output = lineSplitter(onOutput);
    const errors = lineSplitter(onOutput);
    child.stdout!.setEncoding('utf8').on('data', output.push);
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      stderrTail = (stderrTail + text).slice(-4000);
      errors.push(text);
    });
    const reporter = child.stdio[3] as NodeJS.ReadableStream;
    reporter.setEncoding('utf8');
    reporter.on('data', (text: string) => {
      reporterText += text;
      let newline;
      while ((newline = reporterText.indexOf('\n')) >= 0) {
        const json = reporterText.slice(0, newline);
        reporterText = reporterText.slice(newline + 1);
        if (json.trim().length > 0) lines.push(JSON.parse(json) as NodeTestLine);
      }
    });
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      output.flush();
      errors.flush();
      resolvePromise({ lines, exitCode, signal, stderrTail });
    });
  });
}

/** Hands complete lines (without their newline) to `emit`; `flush` emits the rest. */
function lineSplitter(emit: (line: string) => void): { push: (text: string) => void; flush: () => void } {
  let pending = '';
  return {
    push: (text) => {
      pending += text;
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        emit(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    },
    flush: () => {
      if (pending.length > 0) emit(pending);
      pending = '';
    },
  };
}

function realFile(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((name, i) => path[i] === name);
}

/**
 * Runs the test(s) an id names and returns their outcomes in report order. Never throws for a test
 * problem: a missing file, an unknown name or a crashed test process become one error outcome.
 */
export async function runNodeTest(id: string, options: NodeRunOptions, onOutput: (text: string) => void): Promise<WorkerOutcome[]> {
  const { file, path } = parseNodeId(id);
  const absolute = isAbsolute(file) ? file : resolve(options.root, file);
  if (!existsSync(absolute)) {
    return [{ kind: 'error', testName: id, errorClass: 'builtins.FileNotFoundError', message: `No such test file: '${absolute}'`, frames: [] }];
  }
  const last = path[path.length - 1];
  const pattern = last === undefined ? undefined : `${escapeRegExp(last)}$`;
  const run = await runChild(absolute, pattern, options, onOutput);
  const real = realFile(absolute);
  const outcomes = run.lines
    .filter((line) => !line.suite && (line.file === undefined || realFile(line.file) === real) && startsWith(line.path, path))
    .map((line) => outcomeFromLine(line, formatNodeId(file, line.path)));
  if (outcomes.length > 0) return outcomes;
  if (run.exitCode !== 0) {
    const how = run.signal === null ? `exit status ${run.exitCode}` : `signal ${run.signal}`;
    return [
      {
        kind: 'error',
        testName: id,
        errorClass: 'builtins.RuntimeError',
        message: `the node:test process for ${id} ended with ${how} before reporting it\n${run.stderrTail.trimEnd()}`,
        frames: [],
      },
    ];
  }
  const what = path.length === 0 ? `no node:test tests in ${file}` : `no node:test test named ${JSON.stringify(path.join(' > '))} in ${file}`;
  return [{ kind: 'error', testName: id, errorClass: 'builtins.LookupError', message: what, frames: [] }];
}

// Node's default test file patterns (node --test with no arguments), minus the test/ folder rule.
const TEST_FILE = /(^|[-_.])test\.[cm]?js$|^test-.*\.[cm]?js$|^test\.[cm]?js$/;

function testFilesUnder(directory: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...testFilesUnder(path));
    else if (TEST_FILE.test(entry.name)) files.push(path);
  }
  return files;
}

export interface NodeListOptions {
  /** Directory the names are relative to (and the ids stay relative to). */
  readonly cwd: string;
  readonly nodeOptions?: readonly string[];
  /** Files listed at once. */
  readonly concurrency?: number;
}

/**
 * Expands names (files, directories, `file::suite…` ids) into test ids by loading every file once
 * with a name pattern nothing matches: node:test then reports each test as skipped without running
 * it, which gives the full list. Tests created inside other tests (`t.test`) are not listed; they
 * run and report with their parent. A name with no listed test is kept as given (the worker will
 * report it as an error, as trial does for a name it cannot load).
 */
export async function listNodeTests(names: readonly string[], options: NodeListOptions): Promise<string[]> {
  const requests: Array<{ name: string; file: string; path: readonly string[] }> = [];
  for (const name of names) {
    const { file, path } = parseNodeId(name);
    const absolute = resolve(options.cwd, file);
    if (path.length === 0 && existsSync(absolute) && statSync(absolute).isDirectory()) {
      for (const found of testFilesUnder(absolute)) {
        const shown = isAbsolute(file) ? found : relative(options.cwd, found).split(sep).join('/');
        requests.push({ name: shown, file: shown, path: [] });
      }
    } else requests.push({ name, file, path });
  }
  const files = [...new Set(requests.map((r) => r.file))];
  const listed = new Map<string, string[]>();
  const queue = [...files];
  const workers = Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 4, files.length)) }, async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      const absolute = resolve(options.cwd, file);
      if (!existsSync(absolute)) {
        listed.set(file, []);
        continue;
      }
      const run = await runChild(absolute, '(?!)', { cwd: options.cwd, root: options.cwd, nodeOptions: options.nodeOptions }, () => {});
      const real = realFile(absolute);
      listed.set(
        file,
        run.lines.filter((l) => !l.suite && (l.file === undefined || realFile(l.file) === real)).map((l) => formatNodeId(file, l.path)),
      );
    }
  });
  await Promise.all(workers);
  const ids: string[] = [];
  const seen = new Set<string>();
  const add = (id: string) => {
    if (!seen.has(id)) {
      seen.add(id);
      ids.push(id);
    }
  };
  for (const request of requests) {
    const prefix = request.path.length === 0 ? undefined : request.name;
    const matching = (listed.get(request.file) ?? []).filter(
      (id) => prefix === undefined || id === prefix || id.startsWith(prefix + NODE_ID_SEPARATOR),
    );
    if (matching.length === 0) add(request.name);
    else matching.forEach(add);
  }
  return ids;
}
