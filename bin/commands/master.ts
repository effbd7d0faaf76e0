/**
 * The master as a service: `ampstate master create DIR --listen ENDPOINT …`, then
 * `start|stop|restart|status|reload DIR` (see docs/master-service.md).
 *
 * Exit codes as `ampstate worker`'s: create 0/2; start 0 started, 1 failed, 2 bad arguments;
 * stop 0; status 0 running, 1 stopped; reload 0 signalled, 1 not running.
 */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { createLogDestination, currentLogFormat } from '../../actors/logger.js';
import { parseServerEndpoint } from '../../actors/endpoint.js';
import { PasswordHash } from '../../actors/master/password-hash.js';
import { readMasterConfig, writeAdminToken, writeMasterConfig, type MasterServiceConfig, type MasterWorkerEntry } from '../../actors/master/service/config.js';
import { masterStatus, reloadMasterDaemon, startMasterDaemon, stopMasterDaemon } from '../../actors/master/service/control.js';
import { dashboard } from '../../actors/master/dashboard/register-dashboard.js';
import { runMasterService } from '../../actors/master/service/run-service.js';
import { registerDaemonVerbs, say, seconds } from './daemon-verbs.js';
import { readSecretFile } from './read-secret.js';
import { LEVELS } from './worker.js';

interface CreateOptions {
  listen: string;
  msgpack?: string;
  dashboard?: string;
  worker: string[];
  workerPasswordFile: string[];
  masterBasedir: string;
  tlsCert?: string;
  tlsKey?: string;
  tokenOnLoopback?: boolean;
  logLevel?: string;
  keepaliveInterval?: number;
  keepaliveTimeout?: number;
  force?: boolean;
}

interface StartOptions {
  nodaemon?: boolean;
  daemonChild?: boolean;
  logLevel?: string;
  timeout: number;
}

function refuse(line: string, code: number): void {
  process.stderr.write(`ampstate master: ${line}\n`);
  process.exitCode = code;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function endpoint(text: string): string {
  try {
    parseServerEndpoint(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return text;
}

async function create(dir: string, options: CreateOptions): Promise<void> {
  if (options.worker.length !== options.workerPasswordFile.length) {
    return refuse('give one --worker-password-file per --worker, in the same order', 2);
  }
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) return refuse('--tls-cert and --tls-key go together', 2);
  if (options.logLevel !== undefined && !LEVELS.includes(options.logLevel)) return refuse(`unknown log level ${JSON.stringify(options.logLevel)}`, 2);
  const workers: Record<string, MasterWorkerEntry> = {};
  for (const [index, name] of options.worker.entries()) {
    if (name === '' || name.includes(':')) return refuse(`invalid worker name ${JSON.stringify(name)}`, 2);
    let password: string;
    try {
      password = await readSecretFile(options.workerPasswordFile[index]!);
    } catch (error) {
      return refuse(`cannot read the password of ${name}: ${(error as Error).message}`, 2);
    }
    if (password === '') return refuse(`the password of ${name} is empty`, 2);
    workers[name] = { passwordHash: PasswordHash.create(password).toString() };
  }
  const config: MasterServiceConfig = {
    listen: options.listen,
    ...(options.msgpack !== undefined ? { msgpack: options.msgpack } : {}),
    ...(options.dashboard !== undefined ? { dashboard: options.dashboard } : {}),
    ...(options.tokenOnLoopback ? { tokenOnLoopback: true } : {}),
    masterBasedir: options.masterBasedir,
    ...(options.tlsCert !== undefined && options.tlsKey !== undefined ? { tls: { certificate: resolve(options.tlsCert), privateKey: resolve(options.tlsKey) } } : {}),
    workers,
    ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
    ...(options.keepaliveInterval !== undefined ? { keepaliveIntervalSeconds: options.keepaliveInterval } : {}),
    ...(options.keepaliveTimeout !== undefined ? { keepaliveTimeoutSeconds: options.keepaliveTimeout } : {}),
  };
  try {
    const path = await writeMasterConfig(dir, config, { force: options.force });
    await writeAdminToken(dir, { force: options.force });
    say(`master created in ${dir} (configuration: ${path}); start it with: ampstate master start ${dir}`);
  } catch (error) {
    const code = (error as { code?: string }).code;
    refuse(code?.startsWith('MASTER_ERR') ? (error as Error).message : `cannot create the master: ${(error as Error).message}`, 2);
  }
}

async function start(dir: string, options: StartOptions): Promise<void> {
  if (options.logLevel !== undefined && !LEVELS.includes(options.logLevel)) return refuse(`unknown log level ${JSON.stringify(options.logLevel)}`, 2);
  if (options.nodaemon) {
    const stderr = options.daemonChild ? undefined : createLogDestination(currentLogFormat());
    const code = await runMasterService(dir, { stderr, logLevel: options.logLevel, registerDashboard: dashboard() });
    process.exitCode = code;
    setTimeout(() => process.exit(code), 1000).unref();
    return;
  }
  const outcome = await startMasterDaemon(dir, {
    entryPoint: realpathSync(process.argv[1] ?? 'ampstate'),
    extraArguments: options.logLevel !== undefined ? ['--log-level', options.logLevel] : [],
    timeoutMs: options.timeout * 1000,
  });
  if (!outcome.ok) return refuse(`could not start the master: ${outcome.message}`, 1);
  say(`master started (pid ${outcome.pid}); log: ${outcome.logFile}${outcome.dashboardUrl !== undefined ? `; dashboard: ${outcome.dashboardUrl}` : ''}`);
}

/** Rewrites the config's workers; a running master applies it on `reload` (SIGHUP). */
async function editWorkers(dir: string, edit: (workers: Record<string, MasterWorkerEntry>) => string): Promise<void> {
  const config = await readMasterConfig(dir);
  const workers = { ...config.workers };
  const done = edit(workers);
  await writeMasterConfig(dir, { ...config, workers }, { force: true });
  say(`${done}; apply it to a running master with: ampstate master reload ${dir}`);
}

export function registerMasterCommand(program: Command): void {
  const master = program.command('master').description('run a master as a service: create, start, stop, restart, status, reload (see docs/master-service.md)');

  master
    .command('create')
    .description('create a master directory: ampstate-master.json (scrypt password hashes, mode 0600) and admin-token (0600)')
    .argument('<dir>', 'the master directory (created if missing)')
    .requiredOption('--listen <endpoint>', 'where AMP workers connect, e.g. tcp:9989:interface=0.0.0.0', endpoint)
    .option('--msgpack <endpoint>', 'where buildbot-workers connect over msgpack/WebSocket', endpoint)
    .option('--dashboard <endpoint>', 'the admin API, /metrics and the dashboard, e.g. tcp:8010', endpoint)
    .option('--worker <name>', 'a worker the master accepts (repeatable)', collect, [])
    .option('--worker-password-file <file>', "that worker's password, read from this file (repeatable, in --worker's order)", collect, [])
    .option('--master-basedir <dir>', 'master-side files (relative to DIR unless absolute)', 'files')
    .option('--tls-cert <file>', 'a PEM certificate: workers then connect over TLS')
    .option('--tls-key <file>', "the certificate's private key (PEM)")
    .option('--token-on-loopback', 'require the admin token for the dashboard and /metrics on loopback too')
    .option('--log-level <level>', `the master's log level (${LEVELS.join(', ')}; default info)`)
    .option('--keepalive-interval <seconds>', 'how often attached workers are sent a keepalive (default 60)', seconds)
    .option('--keepalive-timeout <seconds>', 'how long a keepalive may go unanswered before the worker is dropped (default 30)', seconds)
    .option('--force', 'replace an existing configuration and token')
    .action(create);

  master
    .command('start')
    .description('start the master of DIR: a daemon by default, the log in DIR/master.log, the pid in DIR/master.pid')
    .argument('<dir>')
    .option('--nodaemon', 'run in the foreground, logging to stderr and master.log')
    .addOption(new Option('--daemon-child').hideHelp())
    .option('--log-level <level>', `overrides the configured log level (${LEVELS.join(', ')})`)
    .option('--timeout <seconds>', 'how long to wait for the daemon to report', seconds, 30)
    .action((dir: string, _options: StartOptions, command: Command) => start(dir, command.optsWithGlobals<StartOptions>()));

  registerDaemonVerbs(master, {
    role: 'master',
    dirArgument: 'dir',
    stopDescription: 'stop the master of DIR: SIGTERM, SIGKILL after --timeout',
    stop: stopMasterDaemon,
    start,
    status: masterStatus,
  });

  master
    .command('add-worker')
    .description("add a worker to DIR's configuration (or change its password)")
    .argument('<dir>')
    .argument('<name>')
    .requiredOption('--password-file <file>', "the worker's password, read from this file")
    .action(async (dir: string, name: string, options: { passwordFile: string }) => {
      if (name === '' || name.includes(':')) return refuse(`invalid worker name ${JSON.stringify(name)}`, 2);
      const password = await readSecretFile(options.passwordFile);
      if (password === '') return refuse(`the password of ${name} is empty`, 2);
      await editWorkers(dir, (workers) => {
        const existed = workers[name] !== undefined;
        workers[name] = { ...workers[name], passwordHash: PasswordHash.create(password).toString() };
        return existed ? `worker ${name}: password changed` : `worker ${name} added`;
      });
    });

  master
    .command('remove-worker')
    .description("remove a worker from DIR's configuration (a running master drops it on reload)")
    .argument('<dir>')
    .argument('<name>')
    .action(async (dir: string, name: string) => {
      await editWorkers(dir, (workers) => {
        if (workers[name] === undefined) return `no worker ${name}: nothing changed`;
        delete workers[name];
        return `worker ${name} removed`;
      });
    });

  master
    .command('reload')
    .description("send SIGHUP to the master of DIR: it re-reads its workers (connected ones that stay are kept)")
    .argument('<dir>')
    .action((dir: string) => {
      const pid = reloadMasterDaemon(dir);
      if (pid === undefined) return refuse(`no master running in ${dir}`, 1);
      say(`master (pid ${pid}) reloading its configuration`);
    });
}
