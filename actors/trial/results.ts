/**
 * Typed results of a distributed trial run, as the manager publishes them on `events$`.
 */

export type TrialOutcome = 'success' | 'failure' | 'error' | 'skip' | 'expectedFailure' | 'unexpectedSuccess';

/** One traceback frame, outermost first, as the worker's `frames` triples carry it. */
export interface TrialFrame {
  readonly name: string;
  readonly file: string;
  readonly line: number;
}

/**
 * Where an outcome came from: the worker reported it, or the manager had to make it up because the
 * outcome never arrived (see `SYNTHETIC_ERROR_CLASSES`).
 */
export type TrialResultOrigin = 'worker' | 'no-outcome' | 'worker-died' | 'no-worker';

export interface TrialResult {
  readonly outcome: TrialOutcome;
  /** The test id of the Run this result is attributed to (as Twisted does: by Run, not by name). */
  readonly test: string;
  /** The `testName` the worker sent (may differ when a Run covers a module or class). */
  readonly reportedName: string;
  /** Error/failure/expected-failure text. */
  readonly message?: string;
  /** Fully qualified Python class name (`builtins.ValueError`); errors and failures only. */
  readonly errorClass?: string;
  readonly frames?: readonly TrialFrame[];
  /** Skip reason. */
  readonly reason?: string;
  /** Todo reason of an expected failure or unexpected success. */
  readonly todo?: string;
  readonly origin: TrialResultOrigin;
}

export interface TrialSummary {
  /** Tests started (one per Run), like trial's `testsRun`. */
  readonly testsRun: number;
  readonly successes: number;
  readonly skips: number;
  readonly expectedFailures: number;
  readonly failures: number;
  readonly errors: number;
  readonly unexpectedSuccesses: number;
  /** Outcomes the manager had to synthesise (no outcome, dead worker); included in `errors`. */
  readonly synthesized: number;
  /** No failure and no error (skips and unexpected successes do not fail a run, as in trial). */
  readonly passed: boolean;
  /** Trial's last line: `PASSED (successes=3)` or `FAILED (failures=1, successes=2)`. */
  readonly line: string;
  readonly seconds: number;
}

export type TrialEvent =
  | { readonly type: 'started'; readonly tests: number; readonly workers: number; readonly directory: string | undefined }
  | {
      readonly type: 'test';
      readonly test: string;
      readonly worker: number;
      readonly results: readonly TrialResult[];
      readonly durationMs: number;
    }
  | { readonly type: 'log'; readonly worker: number; readonly test: string | undefined; readonly text: string }
  | {
      readonly type: 'worker';
      readonly worker: number;
      readonly state: 'spawned' | 'exited' | 'crashed';
      readonly exitCode?: number | null;
      readonly signal?: string | null;
      readonly dialect?: string;
    }
  | { readonly type: 'done'; readonly summary: TrialSummary };

/** Trial's counter order for the summary line; zeros are left out. */
export const SUMMARY_ORDER = ['skips', 'expectedFailures', 'failures', 'errors', 'unexpectedSuccesses', 'successes'] as const;

export function summaryLine(counts: Pick<TrialSummary, (typeof SUMMARY_ORDER)[number]>): string {
  const parts = SUMMARY_ORDER.filter((key) => counts[key] > 0).map((key) => `${key}=${counts[key]}`);
  const status = counts.failures + counts.errors === 0 ? 'PASSED' : 'FAILED';
  return parts.length === 0 ? status : `${status} (${parts.join(', ')})`;
}

/** Parses trial's summary line back into counters (absent counters are 0). */
export function parseSummaryLine(line: string): { passed: boolean; counts: Record<(typeof SUMMARY_ORDER)[number], number> } | undefined {
  const match = /^(PASSED|FAILED)(?: \((.*)\))?$/.exec(line.trim());
  if (match === null) return undefined;
  const counts = { skips: 0, expectedFailures: 0, failures: 0, errors: 0, unexpectedSuccesses: 0, successes: 0 };
  for (const part of (match[2] ?? '').split(', ').filter((p) => p.length > 0)) {
    const [key, value] = part.split('=');
    if (key !== undefined && key in counts) counts[key as keyof typeof counts] = Number(value);
  }
  return { passed: match[1] === 'PASSED', counts };
}
