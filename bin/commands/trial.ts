import { InvalidArgumentError, Option, type Command } from 'commander';
import { AmpStateError } from '../../codec/errors.js';
import { TwistedNotFoundError } from '../../actors/trial/errors.js';
import { TrialManager } from '../../actors/trial/manager.js';
import type { DialectChoice } from '../../actors/trial/worker-process.js';

/** Where the command writes and how it ends; the defaults are the process's own (tests replace them). */
export interface TrialCommandIo {
  readonly stdout?: NodeJS.WritableStream;
  readonly stderr?: NodeJS.WritableStream;
  readonly setExitCode?: (code: number) => void;
  /** Directory the run happens in (default: the process's cwd). */
  readonly cwd?: string;
}

interface TrialCommandOptions {
  jobs: number;
  python?: string;
  dialect: DialectChoice;
  node?: boolean;
  tempDirectory: string;
  forceGc?: boolean;
  nodeOption: string[];
  spawn: 'eager' | 'lazy';
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
 */
export function registerTrialCommand(program: Command, io: TrialCommandIo = {}): void {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const setExitCode = io.setExitCode ?? ((code: number) => (process.exitCode = code));
  program
    .command('trial')
    .description("run tests on trial -j workers (Twisted's distributed trial protocol), like `python -m twisted.trial -j N`")
    .argument('<names...>', 'dotted Python test names as trial takes them; with --node: test files, directories or FILE::suite::test ids')
    .option('-j, --jobs <N>', 'number of workers (never more than there are tests)', positiveInteger, 1)
    .option('--python <path>', 'interpreter with Twisted for the manager helpers and the workers (default $AMPSTATE_PYTHON or python3)')
    .addOption(new Option('--dialect <dialect>', 'manager schema: auto-detect per worker, or force one').choices(['auto', '22.4', '22.10']).default('auto'))
    .option('--node', 'run node:test tests on ampstate TypeScript workers')
    .option('--temp-directory <dir>', "trial's working directory", '_trial_temp')
    .option('--force-gc', 'forwarded to the workers: garbage-collect around every test')
    .option('--node-option <option>', 'with --node: extra node option for the test processes (repeatable, e.g. --import=tsx)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .addOption(new Option('--spawn <mode>', 'eager: start workers while listing tests; lazy: list first (as Twisted)').choices(['eager', 'lazy']).default('eager'))
    .action(async (names: string[], options: TrialCommandOptions) => {
      const manager = new TrialManager({
        names,
        jobs: options.jobs,
        // An empty AMPSTATE_PYTHON is unset, as a shell user means it.
        python: options.python || process.env.AMPSTATE_PYTHON || 'python3',
        dialect: options.dialect,
        node: options.node === true,
        tempDirectory: options.tempDirectory,
        workerArguments: options.forceGc ? ['--force-gc'] : [],
        nodeOptions: options.nodeOption,
        spawn: options.spawn,
        output: stdout,
        cwd: io.cwd,
      });
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
