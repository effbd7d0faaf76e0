/**
 * `ampstate worker start --nodaemon BASEDIR`: the configured worker in this process, as
 * `twistd --nodaemon` runs buildbot.tac. It owns the pidfile for as long as it runs, logs JSON to
 * the rotated `BASEDIR/worker.log` (and, when `stderr` is given, to stderr in the chosen format),
 * and stops through the daemon's SIGTERM path, which kills the running commands' process groups.
 *
 * When a `start` parent is listening on an IPC channel it is told once: started, or failed and why.
 */
import { join, resolve } from 'node:path';
import { pino, type DestinationStream } from 'pino';
import { createPinoInspector } from '../../pino-inspector.js';
import { runWorkerDaemon, WORKER_EXIT } from '../daemon.js';
import { DEFAULT_LOG_ROTATE_BYTES, DEFAULT_MAX_ROTATED_FILES, readServiceConfig, type WorkerServiceConfig } from './config.js';
import { claimPidfile, releasePidfile } from './pidfile.js';
import { RotatingLogFile } from './rotating-log-file.js';

export const LOG_FILE = 'worker.log';

/** What the worker tells a waiting `start` parent over IPC. */
export type StartReport = { readonly type: 'started'; readonly pid: number } | { readonly type: 'failed'; readonly message: string };

export interface RunServiceOptions {
  /** Also log here (the --nodaemon terminal or journal); the log file is always written. */
  readonly stderr?: DestinationStream;
  /** Overrides the config's level. */
  readonly logLevel?: string;
  readonly traceMachines?: boolean;
}

function report(message: StartReport): void {
  if (process.send === undefined || !process.connected) return;
  process.send(message);
  // The parent exits once told; an open channel would also keep this process's event loop alive.
  process.disconnect();
}

/** Runs the worker of `basedir` until it stops; resolves with the process exit code. */
export async function runWorkerService(basedirArgument: string, options: RunServiceOptions = {}): Promise<number> {
  const basedir = resolve(basedirArgument);
  let config: WorkerServiceConfig;
  try {
    config = await readServiceConfig(basedir);
  } catch (error) {
    const message = (error as Error).message;
    options.stderr?.write(`ampstate worker: ${message}\n`);
    report({ type: 'failed', message });
    return WORKER_EXIT.config;
  }

  const logFile = new RotatingLogFile(join(basedir, LOG_FILE), {
    rotateBytes: config.logRotateBytes ?? DEFAULT_LOG_ROTATE_BYTES,
    maxRotatedFiles: config.maxRotatedFiles ?? DEFAULT_MAX_ROTATED_FILES,
  });
  const streams: pino.StreamEntry[] = [{ stream: logFile, level: 'trace' }];
  if (options.stderr !== undefined) streams.push({ stream: options.stderr, level: 'trace' });
  const logger = pino({ name: 'ampstate-worker', level: options.logLevel ?? config.logLevel ?? 'info' }, pino.multistream(streams));

  try {
    claimPidfile(basedir, (pid) => logger.warn({ pid }, `removing a stale pidfile: process ${pid} is gone`));
  } catch (error) {
    const message = (error as Error).message;
    logger.error(message);
    report({ type: 'failed', message });
    logFile.close();
    return WORKER_EXIT.gaveUp;
  }
  try {
    const code = await runWorkerDaemon({
      master: config.master,
      name: config.name,
      password: config.password,
      basedir,
      maxRetries: config.maxRetries,
      transferWindow: config.transferWindow,
      numcpus: config.numcpus,
      deleteLeftoverDirs: config.deleteLeftoverDirs,
      logger,
      inspect: options.traceMachines ? createPinoInspector(logger) : undefined,
      onSession: () => report({ type: 'started', pid: process.pid }),
      // A detached daemon outlives the `start` that spawned it; in the foreground, the parent's end is ours.
      stopWhenOrphaned: process.send === undefined,
    });
    if (code !== WORKER_EXIT.ok) report({ type: 'failed', message: `the worker exited with status ${code}; see ${join(basedir, LOG_FILE)}` });
    return code;
  } finally {
    releasePidfile(basedir);
    logFile.close();
  }
}
