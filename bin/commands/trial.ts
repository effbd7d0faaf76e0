import { InvalidArgumentError, Option, type Command } from 'commander';
import { AmpStateError } from '../../codec/errors.js';
import { TwistedNotFoundError } from '../../actors/trial/errors.js';
import { TrialManager } from '../../actors/trial/manager.js';
import { TrialDurations, durationCachePath } from '../../actors/trial/duration-cache.js';
import { TrialProgress, type ProgressStream } from '../../actors/trial/progress.js';
import { defaultLogger } from '../../actors/logger.js';
import type { DialectChoice } from '../../actors/trial/worker-process.js';
import type { FarmWorkersOptions } from '../../actors/trial/worker-placement.js';
import { addFarmOptions, farmFromOptions, type FarmCommandHooks, type FarmCommandOptions } from './trial-farm-options.js';

/** Where the command writes and how it ends; the defaults are the process's own (tests replace them). */
export interface TrialCommandIo extends FarmCommandHooks {
  readonly stdout?: NodeJS.WritableStream;
  readonly stderr?: NodeJS.WritableStream;
  readonly setExitCode?: (code: number) => void;
  /** Directory the run happens in (default: the process's cwd). */
  readonly cwd?: string;
}

interface TrialCommandOptions extends FarmCommandOptions {
  jobs: number;
  python?: string;
  dialect: DialectChoice;
  node?: boolean;
  tempDirectory: string;
  forceGc?: boolean;
  nodeOption: string[];
  spawn: 'eager' | 'lazy';
  durations: boolean;
  progress: boolean;
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return number;
}

/**
 * `ampstate trial -j N [--python PATH] [--dialect auto|22.4|22.10] [--node] NAME…`: trial's
 * distributed runner. Python names run on Twisted's own workertrial.py; with `--node`, node:test files
 * or `file::suite::test` ids run on ampstate's TypeScript workers. Prints trial's report; exit status
 * 0 when the run passed, 1 when it failed, 2 when it could not run at all.
 *
 * With `--master DIR|ENDPOINT (--workers w1,w2 | --all)`, `-j N` trial workers run on each of those
 * farm workers and `--local M` (default 0) here (trial-farm-options.ts).
 */
export function registerTrialCommand(program: Command, io: TrialCommandIo = {}): void {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const setExitCode = io.setExitCode ?? ((code: number) => (process.exitCode = code));
  const command = program
    .command('trial')
    .description("run tests on trial -j workers (Twisted's distributed trial protocol), like `python -m twisted.trial -j N`")
    .argument('<names...>', 'dotted Python test names as trial takes them; with --node: test files, directories or FILE::suite::test ids')
    .option('-j, --jobs <N>', 'number of workers (never more than there are tests); with --master, on each farm worker', positiveInteger, 1)
    .option('--python <path>', 'interpreter with Twisted for the manager helpers and the workers (default $AMPSTATE_PYTHON or python3)')
    .addOption(new Option('--dialect <dialect>', 'manager schema: auto-detect per worker, or force one').choices(['auto', '22.4', '22.10']).default('auto'))
    .option('--node', 'run node:test tests on ampstate TypeScript workers')
    .option('--temp-directory <dir>', "trial's working directory", '_trial_temp')
    .option('--force-gc', 'forwarded to the workers: garbage-collect around every test')
    .option('--node-option <option>', 'with --node: extra node option for the test processes (repeatable, e.g. --import=tsx)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .addOption(new Option('--spawn <mode>', 'eager: start workers while listing tests; lazy: list first (as Twisted)').choices(['eager', 'lazy']).default('eager'))
    .option('--no-durations', "keep trial's test order and do not read or update .ampstate-trial-durations.json")
    .option('--no-progress', 'no progress bar on stderr (it is only drawn on a terminal anyway)');
  addFarmOptions(command)
    .action(async (names: string[], options: TrialCommandOptions) => {
      // An empty AMPSTATE_PYTHON is unset, as a shell user means it.
      const python = options.python || process.env.AMPSTATE_PYTHON || 'python3';
      let farm: FarmWorkersOptions | undefined;
      try {
        farm = await farmFromOptions(options, python, io);
      } catch (error) {
        // Not a Python problem: no --python hint.
        stderr.write(`ampstate trial: ${describeFailure(error, true)}\n`);
        setExitCode(2);
        return;
      }
      // Opened here so the progress bar's ETA reads the same expectations the manager schedules by.
      const durations = options.durations ? new TrialDurations(durationCachePath(io.cwd ?? process.cwd(), options.tempDirectory), defaultLogger) : false;
      const terminal = (stream: NodeJS.WritableStream) => (stream as ProgressStream).isTTY === true;
      // On a shared terminal the report clears the bar's line before each write (never the other way round).
      const sharesTerminal = options.progress && terminal(stderr) && terminal(stdout);
      let progress: TrialProgress | undefined;
      const manager = new TrialManager({
        names,
        // With --master, -j counts the trial workers on each farm worker; --local those here.
        jobs: farm === undefined ? options.jobs : (options.local ?? 0),
        ...(farm === undefined ? {} : { farm }),
        python,
        dialect: options.dialect,
        node: options.node === true,
        tempDirectory: options.tempDirectory,
        workerArguments: options.forceGc ? ['--force-gc'] : [],
        nodeOptions: options.nodeOption,
        spawn: options.spawn,
        output: sharesTerminal
          ? (text: string) => {
              progress?.clearForReport();
              stdout.write(text);
            }
          : stdout,
        // A function output has no colours of its own: keep those stdout would get.
        ...(sharesTerminal ? { colors: (stdout as { hasColors?: () => boolean }).hasColors?.() ?? false } : {}),
        cwd: io.cwd,
        durations,
      });
      if (options.progress) progress = TrialProgress.attach(manager.events$, { stream: stderr, ...(durations === false ? {} : { durations }) });
      try {
        const summary = await manager.run();
        setExitCode(summary.passed ? 0 : 1);
      } catch (error) {
        stderr.write(`ampstate trial: ${describeFailure(error, options.node === true)}\n`);
        setExitCode(2);
      }
    });
}

const PYTHON_HINT = 'pass --python PATH or set AMPSTATE_PYTHON to a Python that has Twisted';

/**
 * One line. A Python that cannot run trial's helpers is the usual first-run problem: say which
 * interpreter was tried, the last line of its complaint (not the traceback), and how to pick another.
 */
function describeFailure(error: unknown, node: boolean): string {
  if (error instanceof TwistedNotFoundError) {
    const lastLine = error.message.split(/\s*\|\s*|\n/).filter((line) => line.trim() !== '').pop() ?? error.message;
    return `cannot use ${error.python} for trial: ${lastLine.replace(/^cannot use .* for trial workers:\s*/, '')}; ${PYTHON_HINT}`;
  }
  const message = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
  // Anything but our own errors, on the Python path, most likely came from a Python that is not one.
  return node || error instanceof AmpStateError ? message : `${message}; ${PYTHON_HINT}`;
}
