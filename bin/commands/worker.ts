import { InvalidArgumentError, type Command } from 'commander';
import { pino } from 'pino';
import { createLogDestination, currentLogFormat } from '../../actors/logger.js';
import { createPinoInspector } from '../../actors/pino-inspector.js';
import { runWorkerDaemon } from '../../actors/worker/daemon.js';
import { DEFAULT_TRANSFER_WINDOW } from '../../actors/worker/session.js';
import { registerWorkerServiceCommands } from './worker-service.js';

interface WorkerCliOptions {
  master?: string;
  name?: string;
  passwordFile?: string;
  basedir?: string;
  maxRetries?: number;
  transferWindow: number;
  numcpus?: number;
  deleteLeftoverDirs?: boolean;
  admin?: string;
  hostDescription?: string;
  logLevel?: string;
  traceMachines?: boolean;
}

export const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** `--trace-machines` here or before the subcommand (the root command turns it into the variable). */
export function tracingRequested(options: { traceMachines?: boolean }): boolean {
  const flag = process.env.AMPSTATE_TRACE_MACHINES;
  return options.traceMachines === true || (flag !== undefined && flag !== '' && flag !== '0');
}

export function positiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError('expected a positive integer');
  return value;
}

/** The options `ampstate worker` and `ampstate worker create` share: how the worker behaves. */
export function addWorkerBehaviourOptions(command: Command): Command {
  return command
    .option('--max-retries <n>', 'exit after N failed attempts in a row (connects, refused logins, losses); default: retry forever', positiveInteger)
    .option('--transfer-window <n>', 'transfer blocks kept in flight (1 = stop-and-wait)', positiveInteger)
    .option('--numcpus <n>', 'the CPU count to report (detected by default)', positiveInteger)
    .option('--delete-leftover-dirs', 'let the master delete builder directories it no longer uses')
    .option('--admin <text>', 'write info/admin (who runs this worker)')
    .option('--host-description <text>', 'write info/host (what this machine is)');
}

/**
 * `ampstate worker --master tcp:HOST:PORT --name N --password-file F --basedir DIR`: a build worker
 * that logs in to an ampstate master, runs its commands and reconnects with Buildbot's backoff.
 * Logs are pino lines on stderr (pretty on a terminal, JSON elsewhere). Exit codes: 0 shut down or
 * stopped by SIGTERM/SIGINT, 1 gave up after --max-retries, 2 bad arguments. The subcommands run
 * the same worker as a service from a basedir (see worker-service.ts).
 */
export function registerWorkerCommand(program: Command): void {
  const worker = program
    .command('worker')
    .description('run a build worker that connects to an ampstate master and runs its commands (or manage one: create, start, stop…)')
    // Checked in the action rather than by commander, which would also demand them of the subcommands.
    .option('--master <endpoint>', 'the master endpoint, e.g. tcp:127.0.0.1:9989 (tls: and unix: work too)')
    .option('--name <name>', 'the worker name the master knows')
    .option('--password-file <file>', 'a file holding the worker password (one trailing newline is ignored)')
    .option('--basedir <dir>', 'the worker base directory (builder dirs and info/ live here)');
  addWorkerBehaviourOptions(worker)
    .option('--log-level <level>', `pino log level (${LEVELS.join(', ')}; default info)`)
    .option('--trace-machines', 'log every state machine transition')
    .action(async (options: WorkerCliOptions, command: Command) => {
      const missing = (['master', 'name', 'passwordFile', 'basedir'] as const).find((key) => options[key] === undefined);
      if (missing !== undefined) {
        const flag = command.options.find((option) => option.attributeName() === missing)?.flags ?? missing;
        command.error(`error: required option '${flag}' not specified (or use a subcommand: ampstate worker create|start|stop|restart|status)`, { exitCode: 2 });
      }
      const logLevel = options.logLevel ?? 'info';
      if (!LEVELS.includes(logLevel)) {
        process.stderr.write(`ampstate worker: unknown log level ${JSON.stringify(logLevel)}\n`);
        process.exitCode = 2;
        return;
      }
      const logger = pino({ name: 'ampstate-worker', level: logLevel }, createLogDestination(currentLogFormat()));
      const code = await runWorkerDaemon({
        master: options.master!,
        name: options.name!,
        passwordFile: options.passwordFile!,
        basedir: options.basedir!,
        maxRetries: options.maxRetries,
        transferWindow: options.transferWindow ?? DEFAULT_TRANSFER_WINDOW,
        numcpus: options.numcpus,
        deleteLeftoverDirs: options.deleteLeftoverDirs,
        admin: options.admin,
        hostDescription: options.hostDescription,
        logger,
        inspect: tracingRequested(options) ? createPinoInspector(logger) : undefined,
        stopWhenOrphaned: true,
      });
      process.exitCode = code;
      // Everything is closed by now; a stray handle (a helper the kill could not reach) must not
      // keep a stopped worker alive.
      setTimeout(() => process.exit(code), 1000).unref();
    });
  registerWorkerServiceCommands(worker);
}
