/** `shell`: run a command line in a work directory (docs/master-worker-protocol.md §3.3). */
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { InvalidArgumentError } from './errors.js';
import { RunProcess } from './run-process.js';

export const SHELL_COMMAND_CLASS = 'WorkerShellCommand';
export const SHELL_REQUIRED_ARGS = ['workdir', 'command'] as const;

export function createShellCommand(args: CommandArguments, context: CommandContext): CommandImplementation {
  const workdir = args.string('workdir');
  const logfiles = args.raw('logfiles') ?? {};
  if (typeof logfiles !== 'object' || Array.isArray(logfiles)) {
    throw new InvalidArgumentError(SHELL_COMMAND_CLASS, 'logfiles', 'a dict');
  }
  const interruptSignal = args.raw('interruptSignal');
  if (interruptSignal !== undefined && interruptSignal !== null && typeof interruptSignal !== 'string') {
    throw new InvalidArgumentError(SHELL_COMMAND_CLASS, 'interruptSignal', 'a signal name');
  }
  const settings = {
    timeout: args.optionalNumber('timeout'),
    maxTime: args.optionalNumber('maxTime'),
    maxLines: args.optionalCount('max_lines'),
    sigtermTime: args.optionalNumber('sigtermTime'),
    initialStdin: args.optionalString('initial_stdin'),
    sendStdout: args.flag('want_stdout', true),
    sendStderr: args.flag('want_stderr', true),
    logEnviron: args.flag('logEnviron', true),
    usePTY: args.flag('usePTY', false),
    // Buildbot keeps its default unless the argument is truthy, so '' and null mean KILL.
    interruptSignal: interruptSignal ? interruptSignal : 'KILL',
  };
  let runningProcess: RunProcess | undefined;

  return {
    async run() {
      // Constructed here, not at start: a bad env value fails the command, not `start_command`.
      runningProcess = new RunProcess({
        ...settings,
        command: args.raw('command'),
        workdir,
        environOverrides: args.raw('env'),
        workerEnviron: context.env.environ,
        logfiles: logfiles as Record<string, unknown>,
        sendUpdate: (entries) => context.sendUpdate(entries),
        sendRC: true,
        logger: context.logger,
        processGroups: context.env.processGroups,
      });
      await runningProcess.start();
    },
    interrupt() {
      runningProcess?.kill('command interrupted');
    },
    kill() {
      runningProcess?.killImmediately();
    },
  };
}
