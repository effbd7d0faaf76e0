/**
 * `ampstate master start --nodaemon DIR`: the configured master in this process. It owns the
 * pidfile while it runs, logs JSON to the rotated `DIR/master.log` (and to `stderr` when given),
 * reloads its workers on SIGHUP and stops on SIGTERM or SIGINT. A waiting `start` parent is told
 * once over IPC: started, or failed and why.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DestinationStream } from 'pino';
import { openServiceProcess, reportUnreadableConfiguration } from '../../service/service-process.js';
import { reportToParent } from '../../service/start-report.js';
import type { RegisterDashboard } from '../admin/http-server.js';
import { MASTER_ADDRESSES_FILE, readAdminToken, readMasterConfig, type MasterAddressesFile, type MasterServiceConfig } from './config.js';
import { MasterService } from './master-service.js';
import { masterAlreadyRunning, masterPidfilePath } from './pidfile.js';

export const MASTER_LOG_FILE = 'master.log';
/** Exit statuses, as the worker's: 0 stopped cleanly, 1 could not start, 2 bad configuration. */
export const MASTER_EXIT = { ok: 0, failed: 1, config: 2 } as const;

export type MasterStartReport =
  | { readonly type: 'started'; readonly pid: number; readonly dashboardUrl?: string; readonly workersPort: number }
  | { readonly type: 'failed'; readonly message: string };

export interface RunMasterServiceOptions {
  readonly stderr?: DestinationStream;
  readonly logLevel?: string;
  readonly registerDashboard?: RegisterDashboard;
}

const report: (message: MasterStartReport) => void = reportToParent;

/** Runs the master of `dir` until SIGTERM/SIGINT; resolves with the exit status. */
export async function runMasterService(dirArgument: string, options: RunMasterServiceOptions = {}): Promise<number> {
  const dir = resolve(dirArgument);
  let config: MasterServiceConfig;
  let token: string;
  try {
    config = await readMasterConfig(dir);
    token = await readAdminToken(dir);
  } catch (error) {
    reportUnreadableConfiguration('master', error, options.stderr);
    return MASTER_EXIT.config;
  }
  const serviceProcess = openServiceProcess({
    name: 'ampstate-master',
    logFile: join(dir, MASTER_LOG_FILE),
    pidfile: masterPidfilePath(dir),
    refusal: (pid) => masterAlreadyRunning(dir, pid),
    settings: config,
    stderr: options.stderr,
    logLevel: options.logLevel,
  });
  if (serviceProcess === undefined) return MASTER_EXIT.failed;
  const { logger } = serviceProcess;

  const service = new MasterService({ dir, config, token, logger, registerDashboard: options.registerDashboard });
  let stopRequested!: () => void;
  const stopping = new Promise<void>((settle) => (stopRequested = settle));
  const onStop = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'stopping');
    stopRequested();
  };
  const onReload = () => {
    readMasterConfig(dir).then(
      (next) => service.reload(next),
      // A broken edit must not take the running master down: keep the workers it has.
      (error: unknown) => logger.warn({ code: (error as { code?: string }).code }, `configuration not reloaded: ${(error as Error).message}`),
    );
  };
  process.on('SIGTERM', onStop).on('SIGINT', onStop).on('SIGHUP', onReload);
  try {
    const addresses = await service.start();
    logger.info({ workers: addresses.amp, msgpack: addresses.msgpack, dashboard: addresses.dashboardUrl }, 'master started');
    const published: MasterAddressesFile = {
      pid: process.pid,
      workersPort: addresses.amp.port,
      ...(addresses.msgpack !== undefined ? { msgpackPort: addresses.msgpack.port } : {}),
      ...(addresses.dashboardUrl !== undefined ? { dashboardUrl: addresses.dashboardUrl } : {}),
    };
    writeFileSync(join(dir, MASTER_ADDRESSES_FILE), JSON.stringify(published) + '\n');
    report({ type: 'started', pid: process.pid, workersPort: addresses.amp.port, ...(addresses.dashboardUrl !== undefined ? { dashboardUrl: addresses.dashboardUrl } : {}) });
    await stopping;
    return MASTER_EXIT.ok;
  } catch (error) {
    const message = `the master could not start: ${(error as Error).message}`;
    logger.error(message);
    report({ type: 'failed', message });
    return MASTER_EXIT.failed;
  } finally {
    process.off('SIGTERM', onStop).off('SIGINT', onStop).off('SIGHUP', onReload);
    await service.stop();
    rmSync(join(dir, MASTER_ADDRESSES_FILE), { force: true });
    serviceProcess.close();
  }
}
