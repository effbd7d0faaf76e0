import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { ChildPipes } from './child-pipes.js';
import { WorkerSpawnError } from './errors.js';
import type { TrialWorkerHost, WorkerExit } from './worker-host.js';

export interface LocalWorkerHostOptions {
  /** The trial worker's index, for the spawn error. */
  readonly index: number;
  /** argv[0] and the rest: `[python, workertrial.py, …]` or `[node, worker-main.js, …]`. */
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** The run's directory: the child's cwd (trial's workers start in the manager's cwd). */
  readonly cwd: string;
  /** `<tempdir>/<index>`, sent in Start; made here if missing. */
  readonly directory: string;
  /** A pipe on the child's fd 5 as well, read as `listing` (the listing worker, listing-worker.ts). */
  readonly listingPipe?: boolean;
}

/**
 * A trial worker as a child of the manager (docs/trial-protocol.md §1.1): AMP on child fds 3
 * (manager → worker) and 4 (worker → manager), stdout and stderr piped, killed with SIGKILL.
 */
export class LocalWorkerHost implements TrialWorkerHost {
  readonly where = 'local';
  /** A local exit says it all (status or signal). */
  readonly failure = undefined;
  readonly startDirectory: string;
  readonly spawned: Promise<void>;
  readonly exited: Promise<WorkerExit>;
  readonly amp: ChildPipes;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** The child's fd 5, when `listingPipe` asked for it. */
  readonly listing: Readable | undefined;
  private readonly child: ChildProcess;

  constructor(options: LocalWorkerHostOptions) {
    this.startDirectory = options.directory;
    mkdirSync(options.directory, { recursive: true });
    const [command, ...args] = options.argv;
    const pipes = options.listingPipe === true ? 6 : 5;
    this.child = spawn(command!, args, { cwd: options.cwd, env: options.env, stdio: new Array<'pipe'>(pipes).fill('pipe') });
    this.listing = options.listingPipe === true ? ((this.child.stdio as readonly unknown[])[5] as Readable) : undefined;
    let spawnFailed = false;
    this.spawned = new Promise((resolve, reject) => {
      this.child.once('spawn', resolve);
      // Errors after the spawn (a failed kill) are not fatal: the exit is what counts then.
      this.child.on('error', (error) => {
        if (this.child.pid !== undefined || spawnFailed) return;
        spawnFailed = true;
        reject(new WorkerSpawnError(options.index, command!, error));
      });
    });
    this.spawned.catch(() => undefined);
    this.stdout = this.child.stdout!;
    this.stderr = this.child.stderr!;
    const toWorker = this.child.stdio[3] as Writable;
    const fromWorker = this.child.stdio[4] as Readable;
    // A worker that dies makes writes fail with EPIPE; the exit is what the manager reports.
    toWorker.on('error', () => undefined);
    this.child.stdin!.on('error', () => undefined);
    this.amp = new ChildPipes(fromWorker, toWorker);
    this.exited = new Promise((resolve) => {
      let settled = false;
      const finish = (exit: WorkerExit) => {
        if (settled) return;
        settled = true;
        resolve(exit);
      };
      this.spawned.catch(() => finish({ code: null, signal: null }));
      // 'close' comes once the process ended and every stdio pipe is closed.
      this.child.once('close', (code, signal) => finish({ code, signal }));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
