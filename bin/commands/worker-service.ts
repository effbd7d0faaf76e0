/**
 * The worker as a service, with buildbot-worker's verbs: `ampstate worker create BASEDIR MASTER
 * NAME`, then `start|stop|restart|status BASEDIR`, and `systemd-unit BASEDIR` for machines where
 * systemd should run it instead (see docs/worker-service.md).
 *
 * Exit codes: create 0/2; start 0 started, 1 it failed to start (already running included), 2 bad
 * arguments; stop 0 (also when it was not running); status 0 running, 1 stopped (like
 * `systemctl is-active`, stale pidfile included).
 */
import { realpathSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { createLogDestination, currentLogFormat } from '../../actors/logger.js';
import { ensureInfoFiles } from '../../actors/worker/daemon.js';
import { parseClientEndpoint } from '../../actors/endpoint.js';
import { writeServiceConfig, type WorkerServiceConfig } from '../../actors/worker/service/config.js';
import { daemonStatus, startDaemon, stopDaemon } from '../../actors/worker/service/control.js';
import { runWorkerService } from '../../actors/worker/service/run-service.js';
import { renderSystemdUnit } from '../../actors/worker/service/systemd-unit.js';
import { registerDaemonVerbs, say, seconds } from './daemon-verbs.js';
import { promptSecret, readSecretFile, readSecretFromStdin } from './read-secret.js';
import { addWorkerBehaviourOptions, LEVELS, positiveInteger, tracingRequested } from './worker.js';

interface CreateOptions {
  passwordFile?: string;
  passwordStdin?: boolean;
  force?: boolean;
  maxRetries?: number;
  transferWindow?: number;
  numcpus?: number;
  deleteLeftoverDirs?: boolean;
  admin?: string;
  hostDescription?: string;
  logLevel?: string;
  logRotateBytes?: number;
  maxRotatedFiles?: number;
}

interface StartOptions {
  nodaemon?: boolean;
  daemonChild?: boolean;
  logLevel?: string;
  traceMachines?: boolean;
  timeout: number;
}

/** The script that started this CLI, with links resolved: what a daemon or a unit runs again. */
function entryPoint(): string {
  return realpathSync(process.argv[1] ?? 'ampstate');
}

function refuse(line: string, code: number): void {
  process.stderr.write(`ampstate worker: ${line}\n`);
  process.exitCode = code;
}

async function readPassword(options: CreateOptions): Promise<string> {
  if (options.passwordFile !== undefined) return readSecretFile(options.passwordFile);
  if (options.passwordStdin) return readSecretFromStdin();
  return promptSecret('worker password: ');
}

async function create(basedir: string, master: string, name: string, options: CreateOptions): Promise<void> {
  if (options.logLevel !== undefined && !LEVELS.includes(options.logLevel)) return refuse(`unknown log level ${JSON.stringify(options.logLevel)}`, 2);
  if (name === '' || name.includes(':')) return refuse(`invalid worker name ${JSON.stringify(name)}: it must be non-empty and contain no ':'`, 2);
  try {
    parseClientEndpoint(master);
  } catch (error) {
    return refuse((error as Error).message, 2);
  }
  let password: string;
  try {
    password = await readPassword(options);
  } catch (error) {
    return refuse(`cannot read the password: ${(error as Error).message}`, 2);
  }
  if (password === '') return refuse('the password is empty', 2);
  const config: WorkerServiceConfig = {
    master,
    name,
    password,
    maxRetries: options.maxRetries,
    transferWindow: options.transferWindow,
    numcpus: options.numcpus,
    deleteLeftoverDirs: options.deleteLeftoverDirs,
    logLevel: options.logLevel,
    logRotateBytes: options.logRotateBytes,
    maxRotatedFiles: options.maxRotatedFiles,
  };
  let path: string;
  try {
    path = await writeServiceConfig(basedir, config, { force: options.force });
    await ensureInfoFiles(basedir, { admin: options.admin, host: options.hostDescription });
  } catch (error) {
    const code = (error as { code?: string }).code;
    return refuse(code?.startsWith('WORKER_ERR') ? (error as Error).message : `cannot create the worker: ${(error as Error).message}`, 2);
  }
  say(`worker created in ${basedir} (configuration: ${path}); start it with: ampstate worker start ${basedir}`);
}

async function start(basedir: string, options: StartOptions): Promise<void> {
  if (options.logLevel !== undefined && !LEVELS.includes(options.logLevel)) return refuse(`unknown log level ${JSON.stringify(options.logLevel)}`, 2);
  if (options.nodaemon) {
    // In the foreground the log goes to the terminal (or journal) too; a daemon's stderr is nowhere.
    const stderr = options.daemonChild ? undefined : createLogDestination(currentLogFormat());
    const code = await runWorkerService(basedir, { stderr, logLevel: options.logLevel, traceMachines: tracingRequested(options) });
    process.exitCode = code;
    // As `ampstate worker`: a stray handle must not keep a stopped worker alive.
    setTimeout(() => process.exit(code), 1000).unref();
    return;
  }
  const extraArguments = [...(options.logLevel !== undefined ? ['--log-level', options.logLevel] : []), ...(tracingRequested(options) ? ['--trace-machines'] : [])];
  const outcome = await startDaemon(basedir, { entryPoint: entryPoint(), extraArguments, timeoutMs: options.timeout * 1000 });
  if (outcome.ok) say(`worker started (pid ${outcome.pid}); log: ${outcome.logFile}`);
  else refuse(`could not start the worker: ${outcome.message}`, 1);
}

export function registerWorkerServiceCommands(worker: Command): void {
  addWorkerBehaviourOptions(
    worker
      .command('create')
      .description('create a worker base directory with its configuration (ampstate-worker.json, mode 0600) and info/ files')
      .argument('<basedir>', 'the worker base directory (created if missing)')
      .argument('<master>', 'the master endpoint, e.g. tcp:buildmaster.example.org:9989')
      .argument('<name>', 'the worker name the master knows')
      .option('--password-file <file>', 'read the password from this file (one trailing newline is ignored)')
      .option('--password-stdin', 'read the password from standard input')
      .option('--force', 'replace an existing configuration'),
  )
    .option('--log-level <level>', `the worker's pino log level (${LEVELS.join(', ')}; default info)`)
    .option('--log-rotate-bytes <n>', 'rotate worker.log at this size (default 10000000)', positiveInteger)
    .option('--max-rotated-files <n>', 'old logs to keep (default 10)', positiveInteger)
    // The worker command's own options (--password-file, --max-retries…) are parsed by it before
    // the subcommand sees them: read them with the globals.
    .action((basedir: string, master: string, name: string, _options: CreateOptions, command: Command) =>
      create(basedir, master, name, command.optsWithGlobals<CreateOptions>()),
    );

  worker
    .command('start')
    .description('start the worker of BASEDIR: a daemon by default, the log in BASEDIR/worker.log, the pid in BASEDIR/worker.pid')
    .argument('<basedir>')
    .option('--nodaemon', 'run in the foreground, logging to stderr and worker.log (for systemd, containers)')
    .addOption(new Option('--daemon-child').hideHelp())
    .option('--log-level <level>', `overrides the configured log level (${LEVELS.join(', ')})`)
    .option('--trace-machines', 'log every state machine transition')
    .option('--timeout <seconds>', 'how long to wait for the daemon to report', seconds, 30)
    .action((basedir: string, _options: StartOptions, command: Command) => start(basedir, command.optsWithGlobals<StartOptions>()));

  registerDaemonVerbs(worker, {
    role: 'worker',
    dirArgument: 'basedir',
    stopDescription: 'stop the worker of BASEDIR: SIGTERM (its running commands are killed), SIGKILL after --timeout',
    stop: stopDaemon,
    start,
    status: daemonStatus,
  });

  worker
    .command('systemd-unit')
    .description('print a systemd unit that runs the worker of BASEDIR in the foreground')
    .argument('<basedir>')
    .option('--user <user>', 'the account to run as (default: the owner of BASEDIR)')
    .action((basedir: string, options: { user?: string }) => {
      try {
        process.stdout.write(renderSystemdUnit({ basedir, node: process.execPath, nodeArguments: process.execArgv, entryPoint: entryPoint(), user: options.user }));
      } catch (error) {
        refuse((error as Error).message, 2);
      }
    });
}
