/**
 * `ampstate worker start --nodaemon BASEDIR`: the configured worker in this process, as
 * `twistd --nodaemon` runs buildbot.tac. It owns the pidfile for as long as it runs, logs JSON to
 * the rotated `BASEDIR/worker.log` (and, when `stderr` is given, to stderr in the chosen format),
 * and stops through the daemon's SIGTERM path, which kills the running commands' process groups.
 *
 * When a `start` parent is listening on an IPC channel it is told once: started, or failed and why.
 */
import { join, resolve } from 'node:path';
import type { DestinationStream } from 'pino';
import { createPinoInspector } from '../../pino-inspector.js';
import { openServiceProcess, reportUnreadableConfiguration } from '../../service/service-process.js';
import { reportToParent, type ServiceStartReport } from '../../service/start-report.js';
import { runWorkerDaemon, WORKER_EXIT } from '../daemon.js';
import { readServiceConfig, type WorkerServiceConfig } from './config.js';
import { alreadyRunning, pidfilePath } from './pidfile.js';

export const LOG_FILE = 'worker.log';

/** What the worker tells a waiting `start` parent over IPC. */
export type StartReport = ServiceStartReport;

export interface RunServiceOptions {
  /** Also log here (the --nodaemon terminal or journal); the log file is always written. */
  readonly stderr?: DestinationStream;
  /** Overrides the config's level. */
  readonly logLevel?: string;
  readonly traceMachines?: boolean;
}

/** Runs the worker of `basedir` until it stops; resolves with the process exit code. */
export async function runWorkerService(basedirArgument: string, options: RunServiceOptions = {}): Promise<number> {
  const basedir = resolve(basedirArgument);
  let config: WorkerServiceConfig;
  try {
    config = await readServiceConfig(basedir);
  } catch (error) {
    reportUnreadableConfiguration('worker', error, options.stderr);
    return WORKER_EXIT.config;
  }

  const service = openServiceProcess({
    name: 'ampstate-worker',
    logFile: join(basedir, LOG_FILE),
    pidfile: pidfilePath(basedir),
    refusal: (pid) => alreadyRunning(basedir, pid),
    settings: config,
    stderr: options.stderr,
    logLevel: options.logLevel,
  });
  if (service === undefined) return WORKER_EXIT.gaveUp;
  const { logger } = service;
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
      onSession: () => reportToParent({ type: 'started', pid: process.pid }),
      // A detached daemon outlives the `start` that spawned it; in the foreground, the parent's end is ours.
      stopWhenOrphaned: process.send === undefined,
    });
    if (code !== WORKER_EXIT.ok) reportToParent({ type: 'failed', message: `the worker exited with status ${code}; see ${join(basedir, LOG_FILE)}` });
    return code;
  } finally {
    service.close();
  }
}
