import { Command, Option } from 'commander';
import { AmpStateError } from '../codec/errors.js';
import { defaultLogFormat, LOG_FORMATS, useLogFormat, type LogFormat } from '../actors/logger.js';
import { ampstateVersion } from '../actors/worker/version.js';
import { registerCallCommand } from './commands/call.js';
import { registerExecCommand } from './commands/exec.js';
import { registerMasterCommand } from './commands/master.js';
import { registerTransferCommands } from './commands/transfer.js';
import { registerMachinesCommand } from './commands/machines.js';
import { registerTrialCommand } from './commands/trial.js';
import { registerWorkerCommand } from './commands/worker.js';

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

registerCallCommand(program);
registerMachinesCommand(program);
registerWorkerCommand(program);
registerTrialCommand(program);
registerMasterCommand(program);
registerExecCommand(program);
registerTransferCommands(program);

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
