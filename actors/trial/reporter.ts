import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { summaryLine, type TrialFrame, type TrialResult, type TrialSummary } from './results.js';
import { pythonStrRepr } from '../../codec/python-repr.js';
import { treeSegments } from './test-ids.js';

/**
 * Trial's default reporter (`TreeReporter`) as `trial -j` prints it, rebuilt from the rules in
 * test/trial/GROUND_TRUTH.md §2: the tree of tests in completion order, the grouped result blocks,
 * `Ran N tests in X.XXXs` and the summary line. Differences from Twisted 22.4's `-j` output are
 * deliberate fixes: an unexpected success is printed as the serial reporter prints it (22.4 crashes
 * and loses the whole end of the report), and a test never has a status-less line (a missing outcome
 * is reported as an error by the manager).
 */

const COLUMNS = 79;
const INDENT = '  ';
const SEPARATOR = '-'.repeat(COLUMNS);
const DOUBLE_SEPARATOR = '='.repeat(COLUMNS);

type Color = 'red' | 'green' | 'blue';
const COLOR_CODES: Record<Color, number> = { red: 31, green: 32, blue: 34 };

const MARKERS: Record<TrialResult['outcome'], { text: string; color: Color }> = {
  success: { text: '[OK]', color: 'green' },
  failure: { text: '[FAIL]', color: 'red' },
  error: { text: '[ERROR]', color: 'red' },
  skip: { text: '[SKIPPED]', color: 'blue' },
  expectedFailure: { text: '[TODO]', color: 'blue' },
  unexpectedSuccess: { text: '[SUCCESS!?!]', color: 'red' },
};

export interface TreeReporterOptions {
  /** Where the text goes (e.g. `(s) => process.stdout.write(s)`). */
  readonly write: (text: string) => void;
  /** ANSI colours for markers and PASSED/FAILED, as trial does on a colour terminal. */
  readonly colors?: boolean;
  /** Source line lookup for tracebacks (Python's linecache); default reads the file. */
  readonly sourceLine?: (file: string, line: number) => string;
}

export class TrialTreeReporter {
  private readonly write: (text: string) => void;
  private readonly colors: boolean;
  private readonly sourceLine: (file: string, line: number) => string;
  private lastSegments: string[] = [];
  private currentLine = '';
  private testsRun = 0;
  private successes = 0;
  private synthesized = 0;
  private readonly skips: Array<[string, string]> = [];
  private readonly expectedFailures: Array<[string, string]> = [];
  private readonly failures: Array<[string, string]> = [];
  private readonly errors: Array<[string, string]> = [];
  private readonly unexpectedSuccesses: Array<[string, string]> = [];

  constructor(options: TreeReporterOptions) {
    this.write = options.write;
    this.colors = options.colors ?? false;
    this.sourceLine = options.sourceLine ?? cachedSourceLine();
  }

  /** `-j`'s first line; printed even for 0 tests. */
  running(count: number): void {
    this.write(`Running ${count} tests.\n`);
  }

  /** One finished Run: its tree line and one status marker per result. */
  testFinished(test: string, results: readonly TrialResult[]): void {
    this.testsRun += 1;
    const { prelude, leaf } = treeSegments(test);
    prelude.forEach((segment, depth) => {
      if (depth >= this.lastSegments.length || segment !== this.lastSegments[depth]) {
        this.writeTracked(`${INDENT.repeat(depth)}${segment}\n`);
      }
    });
    this.lastSegments = prelude;
    this.writeTracked(`${INDENT.repeat(prelude.length)}${leaf} ... `);
    for (const result of results) this.add(test, result);
  }

  /** Prints the result blocks, `Ran …` and the summary; returns the counters. */
  done(seconds: number): TrialSummary {
    this.write('\n');
    this.printResults('[SKIPPED]', this.skips);
    this.printResults('[TODO]', this.expectedFailures);
    this.printResults('[FAIL]', this.failures);
    this.printResults('[ERROR]', this.errors);
    this.printResults('[SUCCESS!?!]', this.unexpectedSuccesses);
    this.write(`${SEPARATOR}\n`);
    if (this.testsRun > 0) this.write(`Ran ${this.testsRun} tests in ${seconds.toFixed(3)}s\n`);
    this.write('\n');
    const summary = this.summary(seconds);
    const status = summary.passed ? 'PASSED' : 'FAILED';
    this.write(`${this.colorize(status, summary.passed ? 'green' : 'red')}${summary.line.slice(status.length)}\n`);
    return summary;
  }

  summary(seconds = 0): TrialSummary {
    const counts = {
      skips: this.skips.length,
      expectedFailures: this.expectedFailures.length,
      failures: this.failures.length,
      errors: this.errors.length,
      unexpectedSuccesses: this.unexpectedSuccesses.length,
      successes: this.successes,
    };
    return {
      ...counts,
      testsRun: this.testsRun,
      synthesized: this.synthesized,
      passed: counts.failures + counts.errors === 0,
      line: summaryLine(counts),
      seconds,
    };
  }

  private add(test: string, result: TrialResult): void {
    if (result.origin !== 'worker') this.synthesized += 1;
    switch (result.outcome) {
      case 'success':
        this.successes += 1;
        break;
      case 'skip':
        this.skips.push([test, `${result.reason ?? ''}\n`]);
        break;
      case 'expectedFailure':
        // Under -j the manager only has the message text, never a traceback (GROUND_TRUTH §5.4).
        this.expectedFailures.push([test, `Reason: ${pythonStrRepr(result.todo ?? '')}\n${(result.message ?? '').trimEnd()}\n`]);
        break;
      case 'failure':
        this.failures.push([test, this.formatTraceback(result)]);
        break;
      case 'error':
        this.errors.push([test, this.formatTraceback(result)]);
        break;
      case 'unexpectedSuccess':
        this.unexpectedSuccesses.push([test, `Reason: ${pythonStrRepr(result.todo ?? '')}\n`]);
        break;
    }
    const marker = MARKERS[result.outcome];
    const spaces = Math.max(0, COLUMNS - this.currentLine.length - marker.text.length);
    this.write(`${' '.repeat(spaces)}${this.colorize(marker.text, marker.color)}\n`);
  }

  /** Twisted's `Failure.getTraceback()` of a rebuilt failure, frames trimmed as trial trims them. */
  formatTraceback(result: TrialResult): string {
    const frames = trimFrames(result.frames ?? []);
    const errorClass = result.errorClass ?? 'builtins.Exception';
    let text = 'Traceback (most recent call last):\n';
    if (frames.length === 0) text += 'Failure: ';
    for (const frame of frames) {
      text += `  File "${frame.file}", line ${frame.line}, in ${frame.name}\n`;
      text += `    ${this.sourceLine(frame.file, frame.line).trim()}\n`;
    }
    return `${text}${errorClass}: ${result.message ?? ''}\n`;
  }

  private printResults(flavor: string, results: ReadonlyArray<[string, string]>): void {
    const groups = new Map<string, string[]>();
    for (const [test, text] of results) {
      const group = groups.get(text);
      if (group === undefined) groups.set(text, [test]);
      else group.push(test);
    }
    for (const [text, tests] of groups) {
      this.write(`${DOUBLE_SEPARATOR}\n${flavor}\n${text}\n`);
      for (const test of tests) this.write(`${test}\n`);
    }
  }

  private writeTracked(text: string): void {
    this.currentLine = text;
    this.write(text);
  }

  private colorize(text: string, color: Color): string {
    return this.colors ? `\x1b[${COLOR_CODES[color]};1m${text}\x1b[0m` : text;
  }
}

/**
 * trial's `Reporter._trimFrames`: drop the runner's own leading frames (`_run` + `runWithWarningsSuppressed`,
 * `maybeDeferred` + 2× `runWithWarningsSuppressed`, or `_runCallbacks`) and a trailing `fail*` frame
 * of `_synctest`, so `self.fail(…)` shows only the test's frame.
 */
export function trimFrames(frames: readonly TrialFrame[]): TrialFrame[] {
  let trimmed = [...frames];
  if (frames.length < 2) return trimmed;
  const stem = (file: string) => basename(file, extname(file));
  trimmed = trimmed.filter((frame) => !(stem(frame.file) === 'compat' && frame.name === 'reraise'));
  const [first, second] = [frames[0]!, frames[1]!];
  const two = `${first.name}/${stem(first.file)} ${second.name}/${stem(second.file)}`;
  if (two === '_run/_synctest runWithWarningsSuppressed/util') trimmed = trimmed.slice(2);
  else if (two === 'maybeDeferred/defer runWithWarningsSuppressed/utils') trimmed = trimmed.slice(3);
  else if (first.name === '_runCallbacks' && stem(first.file) === 'defer') trimmed = trimmed.slice(1);
  const last = trimmed[trimmed.length - 1];
  if (last !== undefined && last.name.startsWith('fail') && stem(last.file) === '_synctest') trimmed = trimmed.slice(0, -1);
  return trimmed;
}

/** Python's `linecache.getline`: the line (with its newline) or '' when unreadable. */
export function cachedSourceLine(): (file: string, line: number) => string {
  const cache = new Map<string, string[] | undefined>();
  return (file, line) => {
    let lines = cache.get(file);
    if (!cache.has(file)) {
      try {
        lines = readFileSync(file, 'utf8').split(/\r\n|\r|\n/);
      } catch {
        lines = undefined;
      }
      cache.set(file, lines);
    }
    if (lines === undefined || line < 1) return '';
    return lines[line - 1] ?? '';
  };
}
