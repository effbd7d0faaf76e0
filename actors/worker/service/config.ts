/**
 * The worker's configuration file, `BASEDIR/ampstate-worker.json`: what `ampstate worker create`
 * writes and `ampstate worker start` reads, the counterpart of Buildbot's buildbot.tac. It holds the
 * password, so it is written with mode 0600 (see docs/worker-service.md).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AmpStateError } from '../../../codec/errors.js';
import { writePrivateFile } from '../../service/private-file.js';

export const CONFIG_FILE = 'ampstate-worker.json';

export interface WorkerServiceConfig {
  readonly master: string;
  readonly name: string;
  readonly password: string;
  readonly maxRetries?: number;
  readonly transferWindow?: number;
  readonly numcpus?: number;
  readonly deleteLeftoverDirs?: boolean;
  readonly logLevel?: string;
  /** worker.log is rotated when it would grow past this many bytes. */
  readonly logRotateBytes?: number;
  /** worker.log.1 … worker.log.N are kept. */
  readonly maxRotatedFiles?: number;
}

export class WorkerServiceConfigError extends AmpStateError {
  override readonly code = 'WORKER_ERR_SERVICE_CONFIG';
}

export class ConfigExistsError extends AmpStateError {
  override readonly code = 'WORKER_ERR_CONFIG_EXISTS';
}

export function configPath(basedir: string): string {
  return join(basedir, CONFIG_FILE);
}

/** Creates `basedir` and writes the config (0600); refuses to replace one unless `force`. */
export async function writeServiceConfig(basedir: string, config: WorkerServiceConfig, options: { force?: boolean } = {}): Promise<string> {
  await mkdir(basedir, { recursive: true });
  const path = configPath(basedir);
  await writePrivateFile(path, JSON.stringify(config, null, 2) + '\n', {
    force: options.force ?? false,
    exists: (message, cause) => new ConfigExistsError(message, { cause }),
  });
  return path;
}

/** Reads and checks the config; every problem is a WorkerServiceConfigError naming the file. */
export async function readServiceConfig(basedir: string): Promise<WorkerServiceConfig> {
  const path = configPath(basedir);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist (run "ampstate worker create" first)' : (error as Error).message;
    throw new WorkerServiceConfigError(`cannot read ${path}: ${reason}`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null) throw new WorkerServiceConfigError(`${path}: not a JSON object`);
  const config = parsed as Record<string, unknown>;
  for (const key of ['master', 'name', 'password'] as const) {
    if (typeof config[key] !== 'string' || config[key] === '') throw new WorkerServiceConfigError(`${path}: "${key}" must be a non-empty string`);
  }
  for (const key of ['maxRetries', 'transferWindow', 'numcpus', 'logRotateBytes', 'maxRotatedFiles'] as const) {
    const value = config[key];
    if (value !== undefined && !(Number.isInteger(value) && (value as number) >= 1)) {
      throw new WorkerServiceConfigError(`${path}: "${key}" must be a positive integer`);
    }
  }
  return parsed as WorkerServiceConfig;
}
