/** The `get_worker_info` result (docs/master-worker-protocol.md §1.3). */
import { readdir, readFile, stat } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { workerCommandVersions } from './registry.js';

export interface WorkerInfoOptions {
  /** Reported as `version`, e.g. the package version. */
  version: string;
  /** Configured CPU count; detected when absent (1 if detection fails). */
  numcpus?: number;
  /** Defaults to `process.env`. */
  environ?: NodeJS.ProcessEnv;
  /** Whether the master should delete builder dirs it no longer needs (msgpack masters require the key). */
  deleteLeftoverDirs?: boolean;
  osReleasePath?: string;
}

/** Python reads the info files in text mode, which turns CRLF and lone CR into LF. */
function universalNewlines(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

async function readInfoFiles(basedir: string): Promise<Record<string, string>> {
  const directory = join(basedir, 'info');
  const info: Record<string, string> = {};
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return info;
  }
  for (const name of names) {
    const path = join(directory, name);
    if (!(await stat(path)).isFile()) continue;
    // The trailing newline stays: masters have always received it that way.
    info[name] = universalNewlines(await readFile(path, 'utf8'));
  }
  return info;
}

/** `os_<key>` entries from an os-release file; quotes around values are dropped, empty values skipped. */
export async function readOsRelease(path: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return {};
  }
  const entries: Record<string, string> = {};
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/^[\r\n]+|[\r\n]+$/g, '');
    if (line === '' || line.startsWith('#')) continue;
    const separator = line.indexOf('=');
    // Python would fail the whole info request here; a malformed line is not worth that.
    if (separator < 0) continue;
    const value = line.slice(separator + 1);
    if (value === '') continue;
    entries[`os_${line.slice(0, separator).toLowerCase()}`] = value.replace(/^"+|"+$/g, '');
  }
  return entries;
}

export async function collectWorkerInfo(basedir: string, options: WorkerInfoOptions): Promise<Record<string, unknown>> {
  const environ: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.environ ?? process.env)) {
    if (value !== undefined) environ[name] = value;
  }
  return {
    ...(await readInfoFiles(basedir)),
    ...(await readOsRelease(options.osReleasePath ?? '/etc/os-release')),
    environ,
    system: process.platform === 'win32' ? 'nt' : 'posix',
    basedir,
    numcpus: options.numcpus ?? (cpus().length || 1),
    version: options.version,
    worker_commands: workerCommandVersions(),
    delete_leftover_dirs: options.deleteLeftoverDirs ?? false,
  };
}
