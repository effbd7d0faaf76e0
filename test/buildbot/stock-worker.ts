/**
 * A stock Buildbot worker (Debian's `buildbot-worker` 3.7, run by `/usr/bin/python3`) as the tests
 * and the bench drive it: `create-worker --protocol=msgpack_experimental_v7` into a fresh basedir,
 * `start --nodaemon` (twistd in the foreground, so the child is the worker itself), SIGTERM to stop.
 *
 * Whether it is installed decides how the suites run: under CI a missing worker is a failure, never
 * a skip; outside CI the suites skip with the reason shown.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BUILDBOT_WORKER = process.env.AMPSTATE_BUILDBOT_WORKER ?? '/usr/bin/buildbot-worker';
export const PROTOCOL = 'msgpack_experimental_v7';

export type Availability = { readonly ok: true; readonly version: string } | { readonly ok: false; readonly reason: string };

/** The environment the worker runs with: Debian's Python, nothing of pyenv or a virtualenv. */
function workerEnv(): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'C.UTF-8',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
  };
}

let cached: Availability | undefined;

export function stockWorkerAvailability(): Availability {
  if (cached !== undefined) return cached;
  if (!existsSync(BUILDBOT_WORKER)) {
    cached = { ok: false, reason: `${BUILDBOT_WORKER} is not installed (apt-get install buildbot-worker)` };
    return cached;
  }
  const probe = spawnSync(BUILDBOT_WORKER, ['--version'], { env: workerEnv(), encoding: 'utf8', timeout: 20_000 });
  const match = /worker version: (\S+)/.exec(probe.stdout ?? '');
  if (probe.status !== 0 || match === null) {
    cached = { ok: false, reason: `${BUILDBOT_WORKER} --version failed: ${(probe.stderr ?? probe.error?.message ?? '').trim().slice(0, 300)}` };
    return cached;
  }
  cached = { ok: true, version: match[1]! };
  return cached;
}

export interface StockWorkerOptions {
  readonly basedir: string;
  readonly port: number;
  readonly name: string;
  readonly password: string;
  readonly deleteLeftoverDirs?: boolean;
  /** Written to info/admin. */
  readonly admin?: string;
}

export class StockWorker {
  readonly basedir: string;
  private child: ChildProcess | undefined;
  private exitPromise: Promise<number | null> | undefined;
  private output = '';

  private constructor(basedir: string) {
    this.basedir = basedir;
  }

  /** `buildbot-worker create-worker --protocol=msgpack_experimental_v7 <dir> 127.0.0.1:<port> <name> <password>`. */
  static create(options: StockWorkerOptions): StockWorker {
    const args = [
      'create-worker',
      `--protocol=${PROTOCOL}`,
      '--quiet',
      ...(options.deleteLeftoverDirs === true ? ['--delete-leftover-dirs'] : []),
      options.basedir,
      `127.0.0.1:${options.port}`,
      options.name,
      options.password,
    ];
    const result = spawnSync(BUILDBOT_WORKER, args, { env: workerEnv(), encoding: 'utf8', timeout: 30_000 });
    if (result.status !== 0) throw new Error(`buildbot-worker create-worker failed (${result.status}): ${result.stderr}${result.stdout}`);
    const worker = new StockWorker(options.basedir);
    if (options.admin !== undefined) writeFileSync(join(options.basedir, 'info', 'admin'), `${options.admin}\n`);
    return worker;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the exit code (null if killed by a signal) once the worker has exited. */
  get exited(): Promise<number | null> {
    return this.exitPromise ?? Promise.resolve(null);
  }

  /** `buildbot-worker start --nodaemon <basedir>`: runs until stopped or shut down by the master. */
  start(): this {
    if (this.running) return this;
    const child = spawn(BUILDBOT_WORKER, ['start', '--nodaemon', this.basedir], {
      cwd: this.basedir,
      env: workerEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.setEncoding('utf8').on('data', (text: string) => (this.output += text));
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (this.output += text));
    this.child = child;
    this.exitPromise = new Promise((resolve) => {
      child.on('exit', (code) => resolve(code));
      child.on('error', (error) => {
        this.output += `spawn error: ${error.message}\n`;
        resolve(null);
      });
    });
    return this;
  }

  /** SIGTERM (twistd's clean stop), then SIGKILL if it is still there after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** What the worker printed plus its twistd.log, for failure messages. */
  log(): string {
    const path = join(this.basedir, 'twistd.log');
    const twistd = existsSync(path) ? readFileSync(path, 'utf8') : '';
    return `${this.output}\n--- twistd.log ---\n${twistd}`;
  }

  /** The last `lines` lines of the log. */
  tail(lines = 40): string {
    return this.log().split('\n').slice(-lines).join('\n');
  }
}
