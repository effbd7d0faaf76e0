/**
 * The master's configuration, `DIR/ampstate-master.json`, and its admin token, `DIR/admin-token`:
 * what `ampstate master create` writes and `start` (and every SIGHUP) reads. The config holds
 * scrypt hashes of the worker passwords, never the passwords; both files are mode 0600 (see
 * docs/master-service.md).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { AmpStateError } from '../../../codec/errors.js';
import { parseServerEndpoint } from '../../endpoint.js';
import type { BuilderList } from '../connection-api.js';
import { PasswordHash } from '../password-hash.js';
import { writePrivateFile } from '../../service/private-file.js';

export const MASTER_CONFIG_FILE = 'ampstate-master.json';
export const ADMIN_TOKEN_FILE = 'admin-token';
/**
 * Where the running master says where it listens (removed when it stops): with port 0 in the
 * config, this is how `ampstate exec --master DIR` and scripts find it.
 */
export const MASTER_ADDRESSES_FILE = 'master.addresses.json';

export interface MasterAddressesFile {
  readonly pid: number;
  /** The AMP listener's port on its interface. */
  readonly workersPort: number;
  readonly msgpackPort?: number;
  readonly dashboardUrl?: string;
}

export interface MasterWorkerEntry {
  /** `scrypt$N$r$p$salt$hash`, see password-hash.ts. */
  readonly passwordHash: string;
  /** Builders besides the `admin` one every worker gets. */
  readonly builders?: BuilderList;
}

export interface MasterServiceConfig {
  /** Where AMP workers connect (a server endpoint, e.g. `tcp:9989:interface=0.0.0.0`). */
  readonly listen: string;
  /** Where stock buildbot-workers connect over msgpack/WebSocket, if anywhere. */
  readonly msgpack?: string;
  /** The admin API, metrics and dashboard (`tcp:PORT[:interface=HOST]`), if anywhere. */
  readonly dashboard?: string;
  /** Require the admin token for the dashboard and metrics on loopback too. */
  readonly tokenOnLoopback?: boolean;
  /** Master-side files (transfers' staging area); relative to DIR unless absolute. */
  readonly masterBasedir: string;
  /** A certificate and its key (PEM): the AMP listener then speaks TLS on the `listen` port. */
  readonly tls?: { readonly certificate: string; readonly privateKey: string };
  readonly workers: Readonly<Record<string, MasterWorkerEntry>>;
  readonly logLevel?: string;
  readonly logRotateBytes?: number;
  readonly maxRotatedFiles?: number;
  /**
   * How often an attached worker is sent a keepalive, and how long it may take to answer, in
   * seconds. The keepalive is how the master notices a worker whose host went silent (no FIN, no
   * RST); Buildbot's defaults are 60 and 30.
   */
  readonly keepaliveIntervalSeconds?: number;
  readonly keepaliveTimeoutSeconds?: number;
}

export class MasterServiceConfigError extends AmpStateError {
  override readonly code = 'MASTER_ERR_SERVICE_CONFIG';
}

export class MasterConfigExistsError extends AmpStateError {
  override readonly code = 'MASTER_ERR_CONFIG_EXISTS';
}

export function masterConfigPath(dir: string): string {
  return join(dir, MASTER_CONFIG_FILE);
}

export function adminTokenPath(dir: string): string {
  return join(dir, ADMIN_TOKEN_FILE);
}

/** The master-side directory, absolute. */
export function resolvedMasterBasedir(dir: string, config: MasterServiceConfig): string {
  return isAbsolute(config.masterBasedir) ? config.masterBasedir : join(dir, config.masterBasedir);
}

/** The AMP listener's endpoint: `listen`, made TLS when the config names a certificate. */
export function ampListenEndpoint(config: MasterServiceConfig): string {
  if (config.tls === undefined) return config.listen;
  const endpoint = parseServerEndpoint(config.listen);
  if (endpoint.kind !== 'tcp') return config.listen;
  const escape = (path: string) => path.replace(/:/g, '\\:');
  return `ssl:${endpoint.port}:interface=${endpoint.host}:certKey=${escape(config.tls.certificate)}:privateKey=${escape(config.tls.privateKey)}`;
}

/** Writes `text` to a new 0600 file; refuses to replace one unless `force`. */
function writeSecretFile(path: string, text: string, force: boolean): Promise<void> {
  return writePrivateFile(path, text, { force, exists: (message, cause) => new MasterConfigExistsError(message, { cause }) });
}

/** Writes the config (0600), replacing it only when `force`. */
export async function writeMasterConfig(dir: string, config: MasterServiceConfig, options: { force?: boolean } = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = masterConfigPath(dir);
  await writeSecretFile(path, JSON.stringify(config, null, 2) + '\n', options.force ?? false);
  return path;
}

/** Generates and writes a fresh admin token (0600); returns it. */
export async function writeAdminToken(dir: string, options: { force?: boolean } = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const token = randomBytes(32).toString('base64url');
  await writeSecretFile(adminTokenPath(dir), `${token}\n`, options.force ?? false);
  return token;
}

export async function readAdminToken(dir: string): Promise<string> {
  try {
    return (await readFile(adminTokenPath(dir), 'utf8')).trim();
  } catch (error) {
    throw new MasterServiceConfigError(`cannot read the admin token ${adminTokenPath(dir)}: ${(error as Error).message}`, { cause: error });
  }
}

function fail(path: string, message: string): never {
  throw new MasterServiceConfigError(`${path}: ${message}`);
}

/** Reads and checks the config; every problem is a MasterServiceConfigError naming the file. */
export async function readMasterConfig(dir: string): Promise<MasterServiceConfig> {
  const path = masterConfigPath(dir);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist (run "ampstate master create" first)' : (error as Error).message;
    throw new MasterServiceConfigError(`cannot read ${path}: ${reason}`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null) fail(path, 'not a JSON object');
  const config = parsed as Record<string, unknown>;
  for (const key of ['listen', 'masterBasedir'] as const) {
    if (typeof config[key] !== 'string' || config[key] === '') fail(path, `"${key}" must be a non-empty string`);
  }
  for (const key of ['listen', 'msgpack', 'dashboard'] as const) {
    const value = config[key];
    if (value === undefined) continue;
    try {
      parseServerEndpoint(String(value));
    } catch (error) {
      fail(path, `"${key}": ${(error as Error).message}`);
    }
  }
  const workers = config.workers;
  if (typeof workers !== 'object' || workers === null) fail(path, '"workers" must be an object');
  for (const [name, entry] of Object.entries(workers)) {
    const hash = (entry as { passwordHash?: unknown } | null)?.passwordHash;
    if (typeof hash !== 'string') fail(path, `worker "${name}" has no "passwordHash"`);
    try {
      PasswordHash.parse(hash);
    } catch (error) {
      fail(path, `worker "${name}": ${(error as Error).message}`);
    }
  }
  return parsed as MasterServiceConfig;
}
