/**
 * How long each test took in earlier runs, kept in `.ampstate-trial-durations.json` beside the
 * run's `_trial_temp` (so `--temp-directory elsewhere/_trial_temp` keeps its own history), keyed by
 * test id. The manager orders its queue from it (schedule.ts) and records every test it ran,
 * failing and erroring ones too: a slow failing test still holds a worker for its whole duration.
 *
 * A worker's first Run is timed from when it was sent, which on a worker still booting (or
 * importing trial's machinery) includes that start-up: such a measurement may only lower a known
 * entry and never creates one (`record`'s `firstOnWorker`). Otherwise the tests that happen to run
 * first would look slow, be scheduled first next time, and look slow again.
 *
 * Each entry keeps a smoothed value (half the old value, half the new measurement: one noisy run
 * moves it, but not all the way) and the run that last saw it. Entries not seen for `MAX_AGE_RUNS`
 * runs are dropped, and at most `MAX_ENTRIES` are kept (the most recently seen), so renamed and
 * deleted tests do not pile up. A run that touches only some tests (`ampstate trial pkg.test_x`)
 * ages the others by one run, which is why the age limit is generous.
 *
 * The file is replaced atomically (temp + rename, atomic-file.ts), merged with what is on disk at
 * save time rather than at load time, so two runs finishing one after the other both keep their
 * measurements. A file that cannot be read as a cache is ignored with one warn line and replaced at
 * the end of the run.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomically } from '../atomic-file.js';
import type { Logger } from '../logger.js';
import { removeStaleTemps } from '../owned-temp-files.js';
import { scheduleTests, type TrialSchedule } from './schedule.js';

export const DURATION_CACHE_NAME = '.ampstate-trial-durations.json';
const FORMAT = 'ampstate-trial-durations';
const VERSION = 1;
const TEMP_PREFIX = '.ampstate-trial-durations-tmp-';
/** Runs an entry may go unseen before it is dropped. */
export const MAX_AGE_RUNS = 50;
/** Entries kept at most (a few MB of JSON). */
export const MAX_ENTRIES = 50_000;
/** Weight of the newest measurement in the smoothed value. */
const NEW_WEIGHT = 0.5;

export interface CacheEntry {
  /** Smoothed duration in milliseconds. */
  readonly ms: number;
  /** The run counter of the last run that recorded this test. */
  readonly run: number;
}

export interface CacheFile {
  readonly format: typeof FORMAT;
  readonly version: typeof VERSION;
  /** How many runs have written this file. */
  readonly runs: number;
  readonly tests: Record<string, CacheEntry>;
}

/** The cache file of runs whose temp directory is `tempDirectory` (relative to `cwd`). */
export function durationCachePath(cwd: string, tempDirectory = '_trial_temp'): string {
  return join(dirname(resolve(cwd, tempDirectory)), DURATION_CACHE_NAME);
}

/** The manager's `durations` option: on (default path), off, a path, or a cache someone else opened. */
export type DurationsOption = boolean | string | TrialDurations;

/** One run's view of the cache: what was recorded before, the schedule made from it, what this run measured. */
export class TrialDurations {
  private readonly recorded: ReadonlyMap<string, number>;
  private readonly measured = new Map<string, Measurement>();
  private current: TrialSchedule | undefined;

  /** Reads the cache now (synchronously: it is read once, before any test runs). */
  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {
    const { cache, problem } = readCache(path);
    if (problem !== undefined) logger.warn({ path, problem }, 'ignoring the trial duration cache: it is not one ampstate can read');
    this.recorded = new Map(Object.entries(cache?.tests ?? {}).map(([id, entry]) => [id, entry.ms]));
  }

  /** Opens the cache the manager's `durations` option names, or undefined when it is off. */
  static open(option: DurationsOption | undefined, cwd: string, tempDirectory: string | undefined, logger: Logger): TrialDurations | undefined {
    if (option instanceof TrialDurations) return option;
    if (option === false) return undefined;
    const path = typeof option === 'string' ? resolve(cwd, option) : durationCachePath(cwd, tempDirectory);
    return new TrialDurations(path, logger);
  }

  /** Recorded milliseconds by test id (smoothed over earlier runs). */
  get recordedMs(): ReadonlyMap<string, number> {
    return this.recorded;
  }

  /** Orders `ids` longest first (schedule.ts) and remembers the schedule for progress estimates. */
  schedule(ids: readonly string[]): TrialSchedule {
    this.current = scheduleTests(ids, this.recorded);
    return this.current;
  }

  /** The schedule of this run, once made. */
  get scheduled(): TrialSchedule | undefined {
    return this.current;
  }

  /**
   * This run measured `ms` for `test` (a test run twice keeps its last time). `firstOnWorker`: the
   * first Run of its worker, whose time includes the worker's start-up (see the top of this file).
   */
  record(test: string, ms: number, firstOnWorker = false): void {
    if (Number.isFinite(ms) && ms >= 0) this.measured.set(test, { ms, firstOnWorker });
  }

  /**
   * Merges this run's measurements into the file as it is now and replaces it atomically. Never
   * throws: a cache that cannot be written costs the next run its ordering, not this run its result.
   */
  async save(): Promise<void> {
    if (this.measured.size === 0) return;
    try {
      const directory = dirname(this.path);
      await removeStaleTemps(directory, TEMP_PREFIX, this.logger);
      const { cache } = parseCache(await readFile(this.path, 'utf8').catch(() => undefined));
      const merged = mergeRun(cache, this.measured);
      await writeFileAtomically(this.path, `${JSON.stringify(merged)}\n`, TEMP_PREFIX);
    } catch (error) {
      this.logger.warn({ path: this.path, err: error }, 'cannot write the trial duration cache');
    }
  }
}

/** One test's time in this run. */
export interface Measurement {
  readonly ms: number;
  /** Timed as its worker's first Run: includes the worker's start-up, so it is only an upper bound. */
  readonly firstOnWorker: boolean;
}

/** The file after one more run that measured `measured`: smoothed, aged, capped. */
export function mergeRun(previous: CacheFile | undefined, measured: ReadonlyMap<string, Measurement | number>): CacheFile {
  const run = (previous?.runs ?? 0) + 1;
  const tests = new Map<string, CacheEntry>(Object.entries(previous?.tests ?? {}));
  for (const [id, measurement] of measured) {
    const { ms, firstOnWorker } = typeof measurement === 'number' ? { ms: measurement, firstOnWorker: false } : measurement;
    const old = tests.get(id);
    if (old === undefined) {
      if (!firstOnWorker) tests.set(id, { ms: round(ms), run });
      continue;
    }
    // An upper bound can lower the estimate, never raise it.
    const observed = firstOnWorker ? Math.min(ms, old.ms) : ms;
    tests.set(id, { ms: round(old.ms + NEW_WEIGHT * (observed - old.ms)), run });
  }
  const kept = [...tests].filter(([, entry]) => run - entry.run < MAX_AGE_RUNS);
  // Most recently seen first; among equals the file's order, so the cap is deterministic.
  if (kept.length > MAX_ENTRIES) kept.sort((a, b) => b[1].run - a[1].run).splice(MAX_ENTRIES);
  return { format: FORMAT, version: VERSION, runs: run, tests: Object.fromEntries(kept) };
}

function readCache(path: string): { cache: CacheFile | undefined; problem?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // No cache yet is the normal first run, not a problem.
    return code === 'ENOENT' ? { cache: undefined } : { cache: undefined, problem: `cannot read it (${code ?? String(error)})` };
  }
  return parseCache(text);
}

/** The cache in `text`, or undefined with the reason it is not one (missing text is no cache, no problem). */
export function parseCache(text: string | undefined): { cache: CacheFile | undefined; problem?: string } {
  if (text === undefined) return { cache: undefined };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { cache: undefined, problem: 'not JSON' };
  }
  const file = value as Partial<CacheFile> | null;
  if (typeof file !== 'object' || file === null || file.format !== FORMAT) return { cache: undefined, problem: 'not a duration cache' };
  if (file.version !== VERSION) return { cache: undefined, problem: `version ${String(file.version)}, expected ${VERSION}` };
  if (!Number.isInteger(file.runs) || typeof file.tests !== 'object' || file.tests === null) return { cache: undefined, problem: 'malformed' };
  const tests = new Map<string, CacheEntry>();
  for (const [id, entry] of Object.entries(file.tests)) {
    const { ms, run } = (entry ?? {}) as Partial<CacheEntry>;
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || !Number.isInteger(run)) return { cache: undefined, problem: `malformed entry for ${id}` };
    tests.set(id, { ms, run: run! });
  }
  // fromEntries defines properties, so even an id like `__proto__` stays an entry.
  return { cache: { format: FORMAT, version: VERSION, runs: file.runs!, tests: Object.fromEntries(tests) } };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
