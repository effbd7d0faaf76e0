/**
 * `trial_worker`'s import check: before a farm worker starts a trial worker, its Python must be
 * able to import every test name the manager will hand out, resolved as trial's own loader does
 * (`TestLoader.findByName`: a package, module, class or method, or a file path). A name that does
 * not import would otherwise surface as one error per test, long after the start.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** One name per failure line: `name: ExceptionClass: message` (the message on one line). */
const CHECK_SCRIPT = [
  'import sys',
  'from twisted.trial.runner import TestLoader',
  'loader = TestLoader()',
  'failed = False',
  'for name in sys.argv[1:]:',
  '    try:',
  '        loader.findByName(name)',
  '    except BaseException as error:',
  '        failed = True',
  '        print("%s: %s: %s" % (name, type(error).__name__, " ".join(str(error).split())), flush=True)',
  'sys.exit(1 if failed else 0)',
].join('\n');

export interface ImportFailure {
  readonly name: string;
  /** `ExceptionClass: message`, or what Python printed when it could not even start the check. */
  readonly reason: string;
}

export interface ImportCheck {
  /** The names that failed; empty when all imported. */
  readonly result: Promise<ImportFailure[]>;
  /** Stops the check (interrupt, lost connection); `result` then settles with what was seen. */
  kill(): void;
}

/** Runs the check with `python` in `cwd` (sys.path[0] is the cwd, as for trial's own workers). */
export function checkImports(python: string, names: readonly string[], cwd: string, env: Record<string, string>): ImportCheck {
  let child: ChildProcess | undefined;
  const result = new Promise<ImportFailure[]>((resolve) => {
    child = spawn(python, ['-c', CHECK_SCRIPT, ...names], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-4096)));
    child.once('error', (error) => resolve(names.map((name) => ({ name, reason: `cannot run ${python}: ${error.message}` }))));
    child.once('close', (code, signal) => {
      if (code === 0) return resolve([]);
      const failures = parseFailures(stdout, names);
      if (failures.length > 0) return resolve(failures);
      // Python itself failed (no Twisted, a broken interpreter): every name shares the reason.
      const why = lastLine(stderr) ?? (signal !== null ? `killed by ${signal}` : `exit status ${code}`);
      resolve(names.map((name) => ({ name, reason: why })));
    });
  });
  return { result, kill: () => child?.kill('SIGKILL') };
}

function parseFailures(stdout: string, names: readonly string[]): ImportFailure[] {
  const failures: ImportFailure[] = [];
  for (const line of stdout.split('\n')) {
    // Names may contain ': ' only as file paths; the longest known name that prefixes the line wins.
    const name = names.filter((candidate) => line.startsWith(`${candidate}: `)).sort((a, b) => b.length - a.length)[0];
    if (name !== undefined) failures.push({ name, reason: line.slice(name.length + 2) });
  }
  return failures;
}

function lastLine(text: string): string | undefined {
  const lines = text.trim().split('\n');
  const last = lines[lines.length - 1]?.trim();
  return last === undefined || last === '' ? undefined : last;
}
