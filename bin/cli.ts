import { Command } from 'commander';
import { registerCallCommand } from './commands/call.js';

/** `ampstate <command>`: each subcommand lives in bin/commands/ and registers itself here. */
const program = new Command('ampstate')
  .description('Twisted AMP for Node: calls, Buildbot-style workers, trial workers, machine export')
  .showHelpAfterError();

registerCallCommand(program);

await program.parseAsync(process.argv);
