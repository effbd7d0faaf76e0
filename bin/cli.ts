import { Command } from 'commander';
import { defaultLogger } from '../actors/logger.js';
import { registerCallCommand } from './commands/call.js';
import { registerMachinesCommand } from './commands/machines.js';
import { registerTrialCommand } from './commands/trial.js';
import { registerWorkerCommand } from './commands/worker.js';

/** `ampstate <command>`: each subcommand lives in bin/commands/ and registers itself here. */
const program = new Command('ampstate')
  .description('Twisted AMP for Node: calls, Buildbot-style workers, trial workers, machine export')
  .showHelpAfterError()
  .option('--trace-machines', 'log every state machine transition as a structured line on stderr')
  .hook('preAction', (command) => {
    // Set before any actor exists: the pino inspector is chosen from the environment at creation.
    if (command.opts<{ traceMachines?: boolean }>().traceMachines) {
      process.env.AMPSTATE_TRACE_MACHINES = '1';
      if (process.env.AMPSTATE_LOG_LEVEL === undefined) defaultLogger.level = 'info';
    }
  });

registerCallCommand(program);
registerMachinesCommand(program);
registerWorkerCommand(program);
registerTrialCommand(program);

await program.parseAsync(process.argv);
