/**
 * `ampstate worker`: one WorkerSession run as a long-lived process, like `buildbot-worker start`
 * in the foreground. It records the info files the master reads (docs/master-worker-protocol.md §1.3), reads the password
 * from a file (never from the command line, where `ps` would show it), and turns SIGTERM/SIGINT
 * into a clean stop: running commands are killed with their process groups, then the connection
 * is closed. A worker killed with SIGKILL can do none of that; the next one, at startup, kills the
 * process groups it left and removes its temp files (docs/master-worker-protocol.md §3.6).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { arch, hostname, release, type, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { AmpStateError } from '../../codec/errors.js';
import type { Inspector } from '../amp-connection.js';
import { parseClientEndpoint } from '../endpoint.js';
import { defaultLogger, type Logger } from '../logger.js';
import { ProcessGroupLedger } from './process-group-ledger.js';
import { commandEnvironment } from './service/command-environment.js';
import { sweepStaleTempFiles } from './stale-temp-files.js';
import { WorkerSession, type WorkerSessionOptions, type WorkerSessionStopReason } from './session.js';

/** The process exit codes of `ampstate worker`. */
export const WORKER_EXIT = {
  /** Shut down by the master, or stopped by SIGTERM/SIGINT. */
  ok: 0,
  /** `--max-retries` failures in a row. */
  gaveUp: 1,
  /** Bad arguments: unreadable password file, malformed endpoint, unusable basedir. */
  config: 2,
} as const;

export class WorkerConfigError extends AmpStateError {
  override readonly code = 'WORKER_ERR_CONFIG';
}

export interface WorkerDaemonOptions {
  readonly master: string;
  readonly name: string;
  /** Where the password is read from; or give the password itself (from the service config). */
  readonly passwordFile?: string;
  readonly password?: string;
  readonly basedir: string;
  readonly maxRetries?: number;
  readonly transferWindow?: number;
  readonly numcpus?: number;
  /** Reported to the master, which then deletes builder dirs it no longer uses (docs/master-worker-protocol.md §1.2). */
  readonly deleteLeftoverDirs?: boolean;
  /** Written to `info/admin` (replacing it); otherwise a missing file gets a default. */
  readonly admin?: string;
  /** Written to `info/host` (replacing it); otherwise a missing file gets a default. */
  readonly hostDescription?: string;
  readonly logger?: Logger;
  readonly inspect?: Inspector;
  /** Install SIGTERM/SIGINT handlers (default true). */
  readonly handleSignals?: boolean;
  /**
   * Stop, as on SIGTERM, when the process that started this one goes away without signalling it:
   * `npx` forwards a kill to its shell only, which leaves the worker behind (default false).
   */
  readonly stopWhenOrphaned?: boolean;
  /** Extra session options (tests). */
  readonly session?: Partial<WorkerSessionOptions>;
  /** Called with the session once it started. */
  readonly onSession?: (session: WorkerSession) => void;
}

/** How often a worker that should stop when orphaned looks at its parent. */
const ORPHAN_CHECK_MS = 1000;

/** The password is the file's text without one trailing newline, as editors leave one. */
export async function readPasswordFile(path: string, logger?: Logger): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
    const mode = (await stat(path)).mode;
    if ((mode & 0o077) !== 0) logger?.warn({ path, mode: (mode & 0o777).toString(8) }, 'the password file is readable by other users');
  } catch (error) {
    throw new WorkerConfigError(`cannot read the password file ${path}: ${(error as Error).message}`, { cause: error });
  }
  const password = text.replace(/\r?\n$/, '');
  if (password === '') throw new WorkerConfigError(`the password file ${path} is empty`);
  return password;
}

/**
 * Makes sure `<basedir>/info/admin` and `info/host` exist, as `buildbot-worker create-worker`
 * does; explicit texts replace what is there. Other files in info/ are reported unchanged.
 */
export async function ensureInfoFiles(basedir: string, texts: { admin?: string; host?: string } = {}): Promise<void> {
  const directory = join(basedir, 'info');
  await mkdir(directory, { recursive: true });
  const withNewline = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);
  const user = safeUserName();
  const defaults = {
    admin: `${user} <${user}@${hostname()}>`,
    host: `${hostname()}: ${type()} ${release()} ${arch()}, Node ${process.version}`,
  };
  for (const name of ['admin', 'host'] as const) {
    const path = join(directory, name);
    const given = texts[name];
    if (given !== undefined) await writeFile(path, withNewline(given));
    else if (!existsSync(path)) await writeFile(path, withNewline(defaults[name]));
  }
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'worker';
  }
}

/**
 * What a worker killed with SIGKILL left behind: the process groups of its commands (killed now)
 * and its temp files (removed). Returns the ledger the new session records its groups in; without
 * one (the basedir cannot hold it) commands run unrecorded.
 */
async function recoverFromCrash(basedir: string, logger: Logger): Promise<ProcessGroupLedger | undefined> {
  let ledger: ProcessGroupLedger | undefined;
  try {
    ({ ledger } = await ProcessGroupLedger.open(basedir, logger));
  } catch (error) {
    logger.warn({ code: (error as NodeJS.ErrnoException).code, basedir }, `cannot keep the process group list: ${(error as Error).message}`);
  }
  await sweepStaleTempFiles(basedir, logger);
  return ledger;
}

/** Runs the worker until it is shut down, stopped by a signal, or gives up; resolves with the exit code. */
export async function runWorkerDaemon(options: WorkerDaemonOptions): Promise<number> {
  const logger = options.logger ?? defaultLogger;
  const basedir = resolve(options.basedir);
  let password: string;
  try {
    parseClientEndpoint(options.master);
    if (options.name === '' || options.name.includes(':')) {
      // Buildbot's msgpack Basic auth cannot carry a colon in the name; keep names portable.
      throw new WorkerConfigError(`invalid worker name ${JSON.stringify(options.name)}: it must be non-empty and contain no ':'`);
    }
    if (options.password !== undefined) password = options.password;
    else if (options.passwordFile !== undefined) password = await readPasswordFile(options.passwordFile, logger);
    else throw new WorkerConfigError('no password: give a password file');
    await mkdir(basedir, { recursive: true });
    await ensureInfoFiles(basedir, { admin: options.admin, host: options.hostDescription });
  } catch (error) {
    if (error instanceof WorkerConfigError || (error as { code?: unknown }).code === 'AMP_ERR_ENDPOINT_SYNTAX') {
      logger.fatal(`ampstate worker: ${(error as Error).message}`);
    } else {
      logger.fatal({ err: error }, `ampstate worker: ${(error as Error).message}`);
    }
    return WORKER_EXIT.config;
  }

  const processGroups = await recoverFromCrash(basedir, logger);
  const session = new WorkerSession({
    master: options.master,
    name: options.name,
    password,
    basedir,
    maxRetries: options.maxRetries,
    transferWindow: options.transferWindow,
    numcpus: options.numcpus,
    deleteLeftoverDirs: options.deleteLeftoverDirs,
    logger,
    inspect: options.inspect,
    environ: commandEnvironment(process.env),
    processGroups,
    ...options.session,
  });

  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, `received ${signal}: killing running commands and disconnecting`);
    void session.stop('stopped');
  };
  const handleSignals = options.handleSignals ?? true;
  if (handleSignals) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  const startedBy = process.ppid;
  const orphanWatch = options.stopWhenOrphaned
    ? setInterval(() => {
        if (process.ppid === startedBy) return;
        logger.info({ parent: startedBy }, 'the process that started this worker is gone: killing running commands and disconnecting');
        void session.stop('stopped');
      }, ORPHAN_CHECK_MS).unref()
    : undefined;
  try {
    session.start();
    options.onSession?.(session);
    const reason: WorkerSessionStopReason = await session.stopped;
    if (reason === 'gave-up') {
      logger.error({ maxRetries: options.maxRetries }, `giving up after ${options.maxRetries} failed attempts in a row`);
      return WORKER_EXIT.gaveUp;
    }
    return WORKER_EXIT.ok;
  } finally {
    await processGroups?.flushed();
    clearInterval(orphanWatch);
    if (handleSignals) {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  }
}
