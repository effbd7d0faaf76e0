/**
 * `ampstate master start --nodaemon DIR`: the configured master in this process. It owns the
 * pidfile while it runs, logs JSON to the rotated `DIR/master.log` (and to `stderr` when given),
 * reloads its workers on SIGHUP and stops on SIGTERM or SIGINT. A waiting `start` parent is told
 * once over IPC: started, or failed and why.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pino, type DestinationStream } from 'pino';
import { RotatingLogFile } from '../../worker/service/rotating-log-file.js';
import { DEFAULT_LOG_ROTATE_BYTES, DEFAULT_MAX_ROTATED_FILES } from '../../worker/service/config.js';
import type { RegisterDashboard } from '../admin/http-server.js';
import { MASTER_ADDRESSES_FILE, readAdminToken, readMasterConfig, type MasterAddressesFile, type MasterServiceConfig } from './config.js';
import { MasterService } from './master-service.js';
import { claimMasterPidfile, releaseMasterPidfile } from './pidfile.js';

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

function report(message: MasterStartReport): void {
  if (process.send === undefined || !process.connected) return;
  process.send(message);
  process.disconnect();
}

/** Runs the master of `dir` until SIGTERM/SIGINT; resolves with the exit status. */
export async function runMasterService(dirArgument: string, options: RunMasterServiceOptions = {}): Promise<number> {
  const dir = resolve(dirArgument);
  let config: MasterServiceConfig;
  let token: string;
  try {
    config = await readMasterConfig(dir);
    token = await readAdminToken(dir);
  } catch (error) {
    const message = (error as Error).message;
    options.stderr?.write(`ampstate master: ${message}\n`);
    report({ type: 'failed', message });
    return MASTER_EXIT.config;
  }
  const logFile = new RotatingLogFile(join(dir, MASTER_LOG_FILE), {
    rotateBytes: config.logRotateBytes ?? DEFAULT_LOG_ROTATE_BYTES,
    maxRotatedFiles: config.maxRotatedFiles ?? DEFAULT_MAX_ROTATED_FILES,
  });
  const streams: pino.StreamEntry[] = [{ stream: logFile, level: 'trace' }];
  if (options.stderr !== undefined) streams.push({ stream: options.stderr, level: 'trace' });
  const logger = pino({ name: 'ampstate-master', level: options.logLevel ?? config.logLevel ?? 'info' }, pino.multistream(streams));

  try {
    claimMasterPidfile(dir, (pid) => logger.warn({ pid }, `removing a stale pidfile: process ${pid} is gone`));
  } catch (error) {
    const message = (error as Error).message;
    logger.error(message);
    report({ type: 'failed', message });
    logFile.close();
    return MASTER_EXIT.failed;
  }

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
    releaseMasterPidfile(dir);
    logFile.close();
  }
}
