/**
 * A stand-in for FarmWorkerHost in manager tests: the trial worker runs as a local child, the way
 * the farm worker would run it (`python -m twisted.trial._dist.workertrial` in the request's
 * workdir, Start's directory made under it), but reports itself as `farm worker NAME`.
 *
 * - The import check fails (spawned rejects with FakeImportCheckError) when the first dotted part
 *   of a name is not a directory or `.py` file in workdir.
 * - With `loseHostOn` set, a line of that text on the worker's stdout makes the host "go away":
 *   the process is killed and the exit carries no status, as when a farm worker's connection is lost.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { AmpStateError } from '../../codec/errors.js';
import type { AdminClient } from '../../actors/master/admin/admin-client.js';
import { LocalWorkerHost } from '../../actors/trial/local-worker-host.js';
import type { FarmHostFactory, FarmTrialWorkerRequest } from '../../actors/trial/worker-placement.js';
import type { TrialWorkerHost, WorkerExit } from '../../actors/trial/worker-host.js';

export class FakeImportCheckError extends AmpStateError {
  override readonly code = 'FAKE_FARM_IMPORT_CHECK';
}

export interface FakeFarm {
  readonly createHost: FarmHostFactory;
  /** Every request the manager made, with the farm worker it named. */
  readonly requests: Array<{ worker: string; request: FarmTrialWorkerRequest }>;
  /** Hosts whose process was lost on purpose. */
  readonly lost: string[];
}

export const FAKE_CLIENT = {
  workers: async () => [{ name: 'fake1' }, { name: 'fake2' }],
} as unknown as AdminClient;

class FakeFarmHost implements TrialWorkerHost {
  readonly where: string;
  readonly startDirectory: string;
  readonly spawned: Promise<void>;
  readonly exited: Promise<WorkerExit>;
  private readonly inner: LocalWorkerHost;
  private lost = false;

  constructor(index: number, worker: string, request: FarmTrialWorkerRequest, extraEnv: NodeJS.ProcessEnv, loseHostOn: string | undefined, onLost: () => void) {
    this.where = `farm worker ${worker}`;
    const workdir = request.workdir!;
    this.startDirectory = request.directory;
    const missing = (request.importCheck ?? []).find((name) => {
      const top = name.split('.')[0]!;
      return !existsSync(join(workdir, top)) && !existsSync(join(workdir, `${top}.py`));
    });
    this.inner = new LocalWorkerHost({
      index,
      // A failed import check starts nothing: `true` stands in for the process that never runs.
      argv: missing === undefined ? [request.python!, '-m', 'twisted.trial._dist.workertrial', ...(request.workerArguments ?? [])] : ['true'],
      env: { ...process.env, ...request.env, ...extraEnv },
      cwd: workdir,
      directory: join(workdir, request.directory),
    });
    this.spawned =
      missing === undefined
        ? this.inner.spawned
        : this.inner.spawned.then(() => {
            throw new FakeImportCheckError(`${this.where} cannot import ${missing} in ${workdir}`);
          });
    this.spawned.catch(() => undefined);
    if (loseHostOn !== undefined) {
      this.inner.stdout.on('data', (chunk: Buffer) => {
        if (this.lost || !chunk.toString().includes(loseHostOn)) return;
        this.lost = true;
        onLost();
        this.inner.kill();
      });
    }
    this.exited = this.inner.exited.then((exit) => (this.lost ? { code: null, signal: null } : exit));
  }

  get amp() {
    return this.inner.amp;
  }
  get stdout(): Readable {
    return this.inner.stdout;
  }
  get stderr(): Readable {
    return this.inner.stderr;
  }
  get pid(): number | undefined {
    return this.inner.pid;
  }
  /** What a master says of a farm worker whose connection it lost. */
  get failure(): string | undefined {
    return this.lost ? `${this.where} disconnected: connection lost` : undefined;
  }
  kill(): void {
    this.inner.kill();
  }
}

export function fakeFarm(options: { env?: NodeJS.ProcessEnv; loseHostOn?: string } = {}): FakeFarm {
  const requests: FakeFarm['requests'] = [];
  const lost: string[] = [];
  let index = 0;
  return {
    requests,
    lost,
    createHost: (_client, worker, request) => {
      requests.push({ worker, request });
      return new FakeFarmHost(index++, worker, request, options.env ?? {}, options.loseHostOn, () => lost.push(worker));
    },
  };
}
