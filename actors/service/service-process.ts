/**
 * What every `ampstate worker|master start --nodaemon` does around its own work: log JSON to the
 * rotated log file (and to stderr in the foreground), own the pidfile while it runs, and tell a
 * waiting `start` parent when it cannot begin.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { claimPidfileAt, releasePidfileAt } from './pidfile.js';
import { RotatingLogFile } from './rotating-log-file.js';
import { reportToParent } from './start-report.js';

/** Buildbot's defaults for twistd.log: rotate at 10 MB, keep 10 old files. */
export const DEFAULT_LOG_ROTATE_BYTES = 10_000_000;
export const DEFAULT_MAX_ROTATED_FILES = 10;

/** The logging part of a service's configuration. */
export interface ServiceLogSettings {
  readonly logLevel?: string;
  readonly logRotateBytes?: number;
  readonly maxRotatedFiles?: number;
}

export interface ServiceProcessOptions {
  /** pino's `name` field. */
  readonly name: string;
  readonly logFile: string;
  readonly pidfile: string;
  /** The error when another live process holds the pidfile. */
  readonly refusal: (pid: number) => Error;
  readonly settings: ServiceLogSettings;
  /** Also log here (the --nodaemon terminal or journal); the log file is always written. */
  readonly stderr?: DestinationStream;
  /** Overrides the configured level. */
  readonly logLevel?: string;
}

export interface ServiceProcess {
  readonly logger: Logger;
  /** Releases the pidfile and closes the log: the last thing the service does. */
  close(): void;
}

/**
 * Opens the log and claims the pidfile. When the pidfile is held the refusal is logged and
 * reported to the parent, and undefined returned: the service must not run.
 */
export function openServiceProcess(options: ServiceProcessOptions): ServiceProcess | undefined {
  const logFile = new RotatingLogFile(options.logFile, {
    rotateBytes: options.settings.logRotateBytes ?? DEFAULT_LOG_ROTATE_BYTES,
    maxRotatedFiles: options.settings.maxRotatedFiles ?? DEFAULT_MAX_ROTATED_FILES,
  });
  const streams: pino.StreamEntry[] = [{ stream: logFile, level: 'trace' }];
  if (options.stderr !== undefined) streams.push({ stream: options.stderr, level: 'trace' });
  const logger = pino({ name: options.name, level: options.logLevel ?? options.settings.logLevel ?? 'info' }, pino.multistream(streams));
  try {
    claimPidfileAt(options.pidfile, options.refusal, (pid) => logger.warn({ pid }, `removing a stale pidfile: process ${pid} is gone`));
  } catch (error) {
    const message = (error as Error).message;
    logger.error(message);
    reportToParent({ type: 'failed', message });
    logFile.close();
    return undefined;
  }
  return {
    logger,
    close: () => {
      releasePidfileAt(options.pidfile);
      logFile.close();
    },
  };
}

/** A configuration that cannot be read: said on stderr (there is no log yet) and to the parent. */
export function reportUnreadableConfiguration(role: string, error: unknown, stderr: DestinationStream | undefined): void {
  const message = (error as Error).message;
  stderr?.write(`ampstate ${role}: ${message}\n`);
  reportToParent({ type: 'failed', message });
}
