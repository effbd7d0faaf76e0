/**
 * `ampstate trial --master DIR|ENDPOINT [--token-file F] (--workers w1,w2 | --all) [-j N]
 * [--local M] [--worker-dir D]`: where the trial workers of a run go when some run on farm workers
 * (issue #16). `-j N` is then the trial workers on each farm worker, `--local M` (default 0) those
 * beside them on this machine.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { AmpStateError } from '../../codec/errors.js';
import type { AdminClient } from '../../actors/master/admin/admin-client.js';
import type { FarmHostFactory, FarmWorkersOptions } from '../../actors/trial/worker-placement.js';
import { adminClient, type MasterTarget } from './admin-options.js';

export interface FarmCommandOptions {
  master?: string;
  tokenFile?: string;
  workers?: string[];
  all?: boolean;
  local?: number;
  workerDir?: string;
}

/** How the farm is reached; tests replace both with fakes. */
export interface FarmCommandHooks {
  /** Default AdminClient.connect. */
  readonly connectMaster?: (target: MasterTarget) => Promise<AdminClient>;
  /** Default FarmWorkerHost. */
  readonly createFarmHost?: FarmHostFactory;
}

/** A command line the trial options cannot mean; reported as one line, exit status 2. */
export class TrialUsageError extends AmpStateError {
  override readonly code = 'TRIAL_ERR_USAGE';
}

function nonNegativeInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new InvalidArgumentError(`expected a non-negative integer, got ${JSON.stringify(value)}`);
  return number;
}

function workerList(text: string): string[] {
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) throw new InvalidArgumentError('name at least one worker');
  return names;
}

export function addFarmOptions(command: Command): Command {
  return command
    .option('--master <dir-or-endpoint>', "run the workers on farm workers through this master's admin API: its directory, or its admin endpoint with --token-file")
    .option('--token-file <file>', 'with --master: the admin token, when --master is an endpoint')
    .option('--workers <names>', 'with --master: comma-separated farm workers to run trial workers on', workerList)
    .option('--all', 'with --master: every farm worker attached to the master')
    .option('--local <M>', 'with --master: also run M workers on this machine (default 0)', nonNegativeInteger)
    .option('--worker-dir <dir>', "with --master: where the farm workers run the tests (default this directory's path; relative: under each farm worker's admin builder directory)");
}

const FARM_ONLY = ['workers', 'all', 'local', 'workerDir', 'tokenFile'] as const;

function flag(name: string): string {
  return `--${name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/**
 * The manager's `farm` option the command line asks for, or undefined for a local-only run.
 * Connects to the master (and lists its workers for `--all`); throws TrialUsageError or the admin
 * client's error.
 */
export async function farmFromOptions(options: FarmCommandOptions & { jobs: number }, python: string, hooks: FarmCommandHooks = {}): Promise<FarmWorkersOptions | undefined> {
  if (options.master === undefined) {
    const stray = FARM_ONLY.filter((name) => options[name] !== undefined);
    if (stray.length > 0) throw new TrialUsageError(`${stray.map(flag).join(', ')} need${stray.length === 1 ? 's' : ''} --master`);
    return undefined;
  }
  if ((options.workers === undefined) === (options.all !== true)) throw new TrialUsageError('with --master, give either --workers w1,w2 or --all');
  const target = { master: options.master, ...(options.tokenFile === undefined ? {} : { tokenFile: options.tokenFile }) };
  const client = await (hooks.connectMaster ?? adminClient)(target);
  const workers = options.all ? (await client.workers()).map((worker) => worker.name) : options.workers!;
  if (workers.length === 0) throw new TrialUsageError(`no farm worker is attached to the master at ${options.master}`);
  return {
    client,
    workers,
    jobs: options.jobs,
    python,
    ...(options.workerDir === undefined ? {} : { workdir: options.workerDir }),
    ...(hooks.createFarmHost === undefined ? {} : { createHost: hooks.createFarmHost }),
  };
}
