import { Command } from 'commander';
import { registerCallCommand } from './commands/call.js';
import { registerMachinesCommand } from './commands/machines.js';
import { registerWorkerCommand } from './commands/worker.js';

/** `ampstate <command>`: each subcommand lives in bin/commands/ and registers itself here. */
const program = new Command('ampstate')
  .description('Twisted AMP for Node: calls, Buildbot-style workers, trial workers, machine export')
  .showHelpAfterError();

registerCallCommand(program);
registerMachinesCommand(program);
registerWorkerCommand(program);

await program.parseAsync(process.argv);
