import type { Inspector } from '../amp-connection.js';
import type { Logger } from '../logger.js';
import type { DroppedEventHandler } from './control.js';
import type { DurationsOption } from './duration-cache.js';
import type { DialectChoice } from './result-collector.js';
import { placeWorkers, type FarmWorkersOptions, type Placement } from './worker-placement.js';

/** What a TrialManager run is told: the names, where its workers run, and how it reports. */
export interface TrialManagerOptions {
  /** Test names: dotted Python names as trial takes them, or (with `node`) files / `file::suite::test` ids. */
  readonly names: readonly string[];
  /**
   * `-j N`: at most N local workers (never more than there are tests). May be 0 when `farm` gives
   * workers; the run then has at most `jobs + farm.workers.length × farm.jobs` workers in all.
   */
  readonly jobs: number;
  /** Trial workers on farm workers, through the master's admin API (see worker-placement.ts). */
  readonly farm?: FarmWorkersOptions;
  /** Interpreter with Twisted; workers run on it too. Default `$AMPSTATE_PYTHON` or `python3`. */
  readonly python?: string;
  /** Manager schema: auto-detected per worker by default. */
  readonly dialect?: DialectChoice;
  /** Run node:test tests on TypeScript workers instead of Python tests on workertrial.py. */
  readonly node?: boolean;
  /** Directory the run happens in (`_trial_temp` is made there). Default: process.cwd(). */
  readonly cwd?: string;
  /** trial's `--temp-directory`; default `_trial_temp` (then `_trial_temp-1`… when locked). */
  readonly tempDirectory?: string;
  /** Extra worker options, forwarded as trial forwards `--force-gc` and friends. */
  readonly workerArguments?: readonly string[];
  /** Options for the node:test processes of TypeScript workers (e.g. `--import=tsx`). */
  readonly nodeOptions?: readonly string[];
  /** Where the trial report goes: a stream, a function, or null for none. Default stdout. */
  readonly output?: NodeJS.WritableStream | ((text: string) => void) | null;
  /** ANSI colours; default: when the output is a colour TTY. */
  readonly colors?: boolean;
  /** Environment of the workers and helpers. Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * 'eager' (default) starts the workers while the tests are being listed, then stops the surplus
   * ones (never sent Start) if there are fewer tests than `jobs`. A first local Python worker may
   * do the listing itself, then work (docs/trial-protocol.md §1.1, "the listing worker"). 'lazy'
   * lists first, in a process of its own, and starts exactly min(tests, jobs), as Twisted does.
   */
  readonly spawn?: 'eager' | 'lazy';
  /** Replaces the worker command line (tests, wrappers); the options above are then not added. */
  readonly workerArgv?: readonly string[];
  /** How long a stopped worker may take to exit before it is killed. Default 30 s. */
  readonly stopTimeoutMs?: number;
  readonly logger?: Logger;
  readonly inspect?: Inspector;
  /**
   * Called with every control event a machine (the pool, or a worker's trialRun) could not take;
   * each is also logged at debug. Model tests collect them and expect none.
   */
  readonly onDroppedEvent?: DroppedEventHandler;
  /**
   * The duration cache (duration-cache.ts): true (default) reads and updates
   * `.ampstate-trial-durations.json` beside the temp directory and hands the tests out longest
   * first; a string names another file; false keeps trial's order and records nothing; a
   * TrialDurations is used as it is (the CLI shares it with the progress view).
   */
  readonly durations?: DurationsOption;
}


/** Where the run's workers go, index by index: local and farm ones alike. */
export function placementsOf(options: TrialManagerOptions): Placement[] {
  const farm = options.farm;
  if (!Number.isInteger(options.jobs) || options.jobs < (farm === undefined ? 1 : 0)) {
    throw new RangeError(farm === undefined ? 'jobs must be a positive integer' : 'jobs (local workers) must be a non-negative integer');
  }
  if (farm === undefined) return placeWorkers(options.jobs, [], 0);
  if (!Number.isInteger(farm.jobs) || farm.jobs < 1) throw new RangeError('farm.jobs must be a positive integer');
  if (farm.workers.length === 0) throw new RangeError('farm.workers must name at least one farm worker');
  return placeWorkers(options.jobs, farm.workers, farm.jobs);
}
