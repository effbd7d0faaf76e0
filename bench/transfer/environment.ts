/** Where bench/transfer finds the CLI and its raw TCP yardstick (built or not), its units, its environment options and its log. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository root, whether this runs as dist/bench/transfer/*.js or from bench/transfer/. */
export const ROOT = /[\\/]dist[\\/]bench[\\/]transfer$/.test(HERE) ? resolve(HERE, '../../..') : resolve(HERE, '../..');
export const CLI = join(ROOT, 'bin', 'ampstate.js');
/** Built next to dist/bench/transfer.js. */
export const RAW_SCRIPT = join(HERE, '..', 'transfer-raw.js');

export const MiB = 1024 * 1024;
export const MB = 1e6;

export function envNumber(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}=${text}: expected a positive number`);
  return value;
}

export function log(message: string): void {
  process.stderr.write(`[bench/transfer] ${message}\n`);
}
