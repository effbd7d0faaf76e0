import { InvalidArgumentError, type Command } from 'commander';
import { pino } from 'pino';
import { createPinoInspector } from '../../actors/pino-inspector.js';
import { runWorkerDaemon } from '../../actors/worker/daemon.js';
import { DEFAULT_TRANSFER_WINDOW } from '../../actors/worker/session.js';

interface WorkerCliOptions {
  master: string;
  name: string;
  passwordFile: string;
  basedir: string;
  maxRetries?: number;
  transferWindow: number;
  numcpus?: number;
  deleteLeftoverDirs?: boolean;
  admin?: string;
  hostDescription?: string;
  logLevel: string;
  traceMachines?: boolean;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function positiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError('expected a positive integer');
  return value;
}

/**
 * `ampstate worker --master tcp:HOST:PORT --name N --password-file F --basedir DIR`: a build worker
 * that logs in to an ampstate master, runs its commands and reconnects with Buildbot's backoff.
 * Logs are pino JSON lines on stderr. Exit codes: 0 shut down or stopped by SIGTERM/SIGINT,
 * 1 gave up after --max-retries, 2 bad arguments.
 */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a build worker that connects to an ampstate master and runs its commands')
    .requiredOption('--master <endpoint>', 'the master endpoint, e.g. tcp:127.0.0.1:9989 (tls: and unix: work too)')
    .requiredOption('--name <name>', 'the worker name the master knows')
    .requiredOption('--password-file <file>', 'a file holding the worker password (one trailing newline is ignored)')
    .requiredOption('--basedir <dir>', 'the worker base directory (builder dirs and info/ live here)')
    .option('--max-retries <n>', 'exit after N failed attempts in a row (connects, refused logins, losses); default: retry forever', positiveInteger)
    .option('--transfer-window <n>', 'transfer blocks kept in flight (1 = stop-and-wait)', positiveInteger, DEFAULT_TRANSFER_WINDOW)
    .option('--numcpus <n>', 'the CPU count to report (detected by default)', positiveInteger)
    .option('--delete-leftover-dirs', 'let the master delete builder directories it no longer uses')
    .option('--admin <text>', 'write info/admin (who runs this worker)')
    .option('--host-description <text>', 'write info/host (what this machine is)')
    .option('--log-level <level>', `pino log level (${LEVELS.join(', ')})`, 'info')
    .option('--trace-machines', 'log every state machine transition')
    .action(async (options: WorkerCliOptions) => {
      if (!LEVELS.includes(options.logLevel)) {
        process.stderr.write(`ampstate worker: unknown log level ${JSON.stringify(options.logLevel)}\n`);
        process.exitCode = 2;
        return;
      }
      // Synchronous stderr: the last lines must not be lost when the process exits.
      const logger = pino({ name: 'ampstate-worker', level: options.logLevel }, pino.destination({ dest: 2, sync: true }));
      const code = await runWorkerDaemon({
        master: options.master,
        name: options.name,
        passwordFile: options.passwordFile,
        basedir: options.basedir,
        maxRetries: options.maxRetries,
        transferWindow: options.transferWindow,
        numcpus: options.numcpus,
        deleteLeftoverDirs: options.deleteLeftoverDirs,
        admin: options.admin,
        hostDescription: options.hostDescription,
        logger,
        inspect: options.traceMachines ? createPinoInspector(logger) : undefined,
      });
      process.exitCode = code;
      // Everything is closed by now; a stray handle (a helper the kill could not reach) must not
      // keep a stopped worker alive.
      setTimeout(() => process.exit(code), 1000).unref();
    });
}
