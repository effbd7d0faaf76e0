import { basename, isAbsolute, join, relative } from 'node:path';
import type { AdminClient } from '../master/admin/admin-client.js';
import type { Logger } from '../logger.js';
import { FarmWorkerHost, type FarmWorkerRequest } from './farm-worker-host.js';
import { LocalWorkerHost } from './local-worker-host.js';
import type { TrialWorkerHost } from './worker-host.js';

/**
 * Where each trial worker of a run goes (issue #16): `local` trial workers are children of the
 * manager, the others run on farm workers through the master's admin API. The manager treats them
 * all the same; only the host differs.
 */
export type Placement = { readonly kind: 'local' } | { readonly kind: 'farm'; readonly worker: string };

/** What a farm worker is asked to run (FarmWorkerHost's request). */
export type FarmTrialWorkerRequest = FarmWorkerRequest;

/** Makes the host of one trial worker on a farm worker (FarmWorkerHost; fakes in tests). */
export type FarmHostFactory = (client: AdminClient, workerName: string, request: FarmTrialWorkerRequest, logger: Logger) => TrialWorkerHost;

export interface FarmWorkersOptions {
  /** The master's admin API, already connected (AdminClient.connect). */
  readonly client: AdminClient;
  /** Farm workers to run trial workers on, by name (at least one). */
  readonly workers: readonly string[];
  /** Trial workers on each farm worker (≥ 1). */
  readonly jobs: number;
  /**
   * The directory the trial workers run in on each farm worker. Default: the manager's cwd, which
   * suits farm workers with the same checkout at the same path; relative is under the farm
   * worker's `admin` builder directory (docs/master-service.md, "Trial workers on the farm").
   */
  readonly workdir?: string;
  /** Interpreter on the farm workers. Default: the manager's `python`. */
  readonly python?: string;
  /**
   * Environment added on the farm workers. Default: the manager's PYTHONPATH when it is set (the
   * machine-specific sys.path a local worker gets is not sent).
   */
  readonly env?: Record<string, string>;
  /** Makes each farm host; default FarmWorkerHost. */
  readonly createHost?: FarmHostFactory;
}

/**
 * Round robin over the hosts (local first, then each farm worker in order), `perHost` slots each:
 * worker i of a run that needs fewer workers than slots still spreads over every host, since the
 * pool keeps the lowest indexes.
 */
export function placeWorkers(local: number, farmWorkers: readonly string[], perFarmWorker: number): Placement[] {
  const hosts: Array<{ placement: Placement; slots: number }> = [
    ...(local > 0 ? [{ placement: { kind: 'local' } as const, slots: local }] : []),
    ...farmWorkers.map((worker) => ({ placement: { kind: 'farm', worker } as const, slots: perFarmWorker })),
  ];
  const placements: Placement[] = [];
  for (let round = 0; hosts.some((host) => host.slots > round); round++) {
    for (const host of hosts) if (host.slots > round) placements.push(host.placement);
  }
  return placements;
}

/**
 * Start's directory on a farm worker, relative to its workdir: the run's temp directory as the
 * manager's cwd sees it (`_trial_temp/3`), so a farm worker in the same directory on the same
 * machine uses the manager's own; a temp directory outside the cwd keeps only its last name.
 */
export function farmStartDirectory(cwd: string, tempPath: string, index: number): string {
  const inside = relative(cwd, tempPath);
  const temp = inside === '' || inside.startsWith('..') || isAbsolute(inside) ? basename(tempPath) : inside;
  return join(temp, String(index));
}

export const defaultFarmHost: FarmHostFactory = (client, workerName, request, logger) => new FarmWorkerHost(client, workerName, request, { logger });

/** The parts of the manager's options a farm worker's request is made of. */
export interface FarmRunSettings {
  readonly names: readonly string[];
  readonly node?: boolean;
  readonly dialect?: 'auto' | '22.4' | '22.10';
  readonly nodeOptions?: readonly string[];
  readonly workerArguments?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

/** What one farm worker is asked to run: the local worker's command line, as that machine runs it. */
export function farmRequest(farm: FarmWorkersOptions, run: FarmRunSettings, python: string, cwd: string, directory: string): FarmTrialWorkerRequest {
  const pythonPath = (run.env ?? process.env).PYTHONPATH;
  const env = farm.env ?? (pythonPath ? { PYTHONPATH: pythonPath } : undefined);
  const common = { workdir: farm.workdir ?? cwd, directory, ...(env === undefined ? {} : { env }) };
  if (run.node) {
    const nodeOptions = (run.nodeOptions ?? []).flatMap((option) => ['--node-option', option]);
    return { kind: 'node', ...common, workerArguments: [...(run.dialect === '22.4' ? ['--dialect', '22.4'] : []), ...nodeOptions, ...(run.workerArguments ?? [])] };
  }
  // The names the user gave are what the farm worker must import: a checkout that lacks them
  // fails the run up front instead of giving other counts.
  return { kind: 'python', python: farm.python ?? python, ...common, workerArguments: [...(run.workerArguments ?? [])], importCheck: [...run.names] };
}

export interface LocalPlan {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

export function localHost(index: number, plan: LocalPlan, cwd: string, directory: string): TrialWorkerHost {
  return new LocalWorkerHost({ index, argv: plan.argv, env: plan.env, cwd, directory });
}
