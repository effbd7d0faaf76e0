/**
 * The fault tests' processes and checks. The worker is the real `ampstate worker` CLI from dist/
 * (its startup recovery included), the master either the test process or master-child.ts in a
 * process of its own; both are killed with SIGKILL. Every check also counts what it found in
 * `tally`, for the suite's one-line summary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEMP_PREFIX } from '../../actors/master/file-writer.js';
import { processGroupMembers } from '../../actors/process-identity.js';
import { DOWNLOAD_TEMP_PREFIX } from '../../actors/worker/commands/download-file.js';
import { PROCESS_GROUPS_FILE, PROCESS_GROUPS_TEMP_PREFIX } from '../../actors/worker/process-group-ledger.js';
import { CLI, REPO, requireBuilt, sleep, type LogLine } from '../integration/harness.js';
import type { MasterChildJob } from './master-child-job.js';

export const tally = { faults: 0, partialFiles: 0, lostFiles: 0, tempsLeft: 0, orphans: 0 };

const TEMP_PREFIXES = [TEMP_PREFIX, DOWNLOAD_TEMP_PREFIX, PROCESS_GROUPS_TEMP_PREFIX];

/** Temp files of ours anywhere under `directory` (relative paths). */
export function tempsUnder(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory, { recursive: true })
    .map(String)
    .filter((path) => TEMP_PREFIXES.some((prefix) => (path.split('/').at(-1) ?? '').startsWith(prefix)));
}

/** Counts and returns the temps left under `directories`. */
export function countTemps(...directories: string[]): string[] {
  const found = directories.flatMap((directory) => tempsUnder(directory).map((path) => join(directory, path)));
  tally.tempsLeft += found.length;
  return found;
}

/** Whether `path` holds exactly `expected` (or is absent, when `expected` is undefined); a partial or lost file is counted. */
export function checkFinal(path: string, expected: { absentOr?: Buffer; equals?: Buffer }): boolean {
  if (!existsSync(path)) {
    if (expected.equals !== undefined) tally.lostFiles += 1;
    return expected.equals === undefined;
  }
  const content = readFileSync(path);
  const wanted = expected.equals ?? expected.absentOr;
  if (wanted !== undefined && content.equals(wanted)) return true;
  if (expected.equals !== undefined) tally.lostFiles += 1;
  else tally.partialFiles += 1;
  return false;
}

/** The process groups still running among `pgids`; each counts as an orphan. */
export function countOrphans(pgids: readonly number[]): number[] {
  const alive = pgids.filter((pgid) => processGroupMembers(pgid).length > 0);
  tally.orphans += alive.length;
  return alive;
}

export function recordedGroups(basedir: string): number[] {
  const path = join(basedir, PROCESS_GROUPS_FILE);
  if (!existsSync(path)) return [];
  return (JSON.parse(readFileSync(path, 'utf8')) as { groups: Array<{ pgid: number }> }).groups.map((group) => group.pgid);
}

export async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A child process that prints one JSON object per line (pino on stderr, master-child on stdout). */
class LineChild {
  readonly lines: LogLine[] = [];
  readonly exited: Promise<unknown>;
  constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    let partial = '';
    const take = (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          // Not a JSON line (a crash trace): kept out of the events.
        }
      }
    };
    child.stdout?.setEncoding('utf8').on('data', take);
    child.stderr?.setEncoding('utf8').on('data', take);
  }

  /** The first line for which `test` holds, waiting for it. */
  line(test: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine> {
    return until(() => this.lines.find(test), what, timeoutMs);
  }

  /** The fault: SIGKILL, then wait until the process is gone. */
  async kill9(): Promise<number> {
    tally.faults += 1;
    this.child.kill('SIGKILL');
    const killedAt = Date.now();
    await this.exited;
    return killedAt;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    await this.exited;
  }
}

export class WorkerChild extends LineChild {
  static spawn(options: { endpoint: string; basedir: string; password: string; tmp: string }): WorkerChild {
    requireBuilt();
    mkdirSync(options.basedir, { recursive: true });
    mkdirSync(options.tmp, { recursive: true });
    const passwordFile = join(options.basedir, '..', 'worker.password');
    writeFileSync(passwordFile, `${options.password}\n`, { mode: 0o600 });
    const args = ['worker', '--master', options.endpoint, '--name', 'fw', '--password-file', passwordFile, '--basedir', options.basedir, '--log-level', 'info'];
    // TMPDIR: the directory upload's tar goes there, where the test can look for it.
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: options.tmp } });
    return new WorkerChild(child);
  }
}

export class MasterChild extends LineChild {
  static spawn(job: MasterChildJob): MasterChild {
    requireBuilt();
    const script = join(REPO, 'dist', 'test', 'faults', 'master-child.js');
    const child = spawn(process.execPath, [script, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AMPSTATE_LOG_LEVEL: 'warn' } });
    return new MasterChild(child);
  }

  async port(): Promise<number> {
    return Number((await this.line((line) => line['event'] === 'listening', 'the master to listen'))['port']);
  }

  /** Resolves once the transfer moved at least `bytes`. */
  async progressed(bytes: number): Promise<void> {
    await this.line((line) => line['event'] === 'progress' && Number(line['bytes']) >= bytes, `${bytes} bytes to move`, 20_000);
  }
}
