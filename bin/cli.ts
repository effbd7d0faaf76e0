import { Command, Option } from 'commander';
import { AmpStateError } from '../codec/errors.js';
import { defaultLogFormat, LOG_FORMATS, useLogFormat, type LogFormat } from '../actors/logger.js';
import { ampstateVersion } from '../actors/worker/version.js';

type Registrar = (program: Command) => void;

/**
 * Each subcommand's module, loaded only when it is the one being run: `ampstate worker` is a
 * long-lived process on every build machine and must not carry the master, its admin API and
 * dashboard (fastify, ws, prom-client), trial or the transfer CLI's progress bars in its memory.
 * Help, or an unrecognised first word, loads them all.
 */
const REGISTRARS: ReadonlyArray<readonly [readonly string[], () => Promise<Registrar>]> = [
  [['call'], async () => (await import('./commands/call.js')).registerCallCommand],
  [['machines'], async () => (await import('./commands/machines.js')).registerMachinesCommand],
  [['worker'], async () => (await import('./commands/worker.js')).registerWorkerCommand],
  [['trial'], async () => (await import('./commands/trial.js')).registerTrialCommand],
  [['master'], async () => (await import('./commands/master.js')).registerMasterCommand],
  [['exec'], async () => (await import('./commands/exec.js')).registerExecCommand],
  [['upload', 'download'], async () => (await import('./commands/transfer.js')).registerTransferCommands],
];

/** The registrars for the subcommand named on the command line, or all of them. */
function registrarsFor(argv: readonly string[]): Array<() => Promise<Registrar>> {
  const first = argv.slice(2).find((arg) => !arg.startsWith('-'));
  const named = REGISTRARS.find(([names]) => first !== undefined && names.includes(first));
  return named === undefined ? REGISTRARS.map(([, load]) => load) : [named[1]];
}

// `ampstate machines | head -1`: the reader is gone and so is the point of writing; end quietly,
// as Unix tools do on SIGPIPE, instead of an 'error' event's stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

/** `ampstate <command>`: each subcommand lives in bin/commands/ and registers itself here. */
const program = new Command('ampstate')
  .description('Twisted AMP for Node: calls, Buildbot-style workers, trial workers, machine export')
  .version(ampstateVersion(), '-V, --version', 'print the ampstate version')
  .showHelpAfterError()
  .option('--trace-machines', 'log every state machine transition as a structured line on stderr')
  .addOption(new Option('--log-format <format>', 'log lines as JSON or human text (default: pretty on a terminal, JSON elsewhere)').choices(LOG_FORMATS))
  .hook('preAction', (command) => {
    const options = command.opts<{ traceMachines?: boolean; logFormat?: LogFormat }>();
    useLogFormat(options.logFormat ?? defaultLogFormat());
    // Set before any actor exists: the pino inspector is chosen from the environment at creation,
    // and it raises its own level so that the trace lines show.
    if (options.traceMachines) process.env.AMPSTATE_TRACE_MACHINES = '1';
  });

for (const load of registrarsFor(process.argv)) (await load())(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // A refusal the user can act on (bad input, a peer saying no, a timeout) is one line; anything
  // else is a bug and keeps its stack.
  if (error instanceof AmpStateError) {
    process.stderr.write(`ampstate: ${error.code}: ${error.message}\n`);
    process.exitCode = 2;
  } else throw error;
}
