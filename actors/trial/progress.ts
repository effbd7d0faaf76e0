/**
 * A progress bar with an ETA for `ampstate trial`, drawn with cli-progress on a terminal (stderr
 * by default), fed only from the manager's `events$`. It is never drawn on anything that is not a
 * TTY (CI logs, pipes, files): there `attach` returns undefined and writes nothing.
 *
 * The ETA comes from the expected durations of the tests still to run when the duration cache knows
 * them (duration-cache.ts: the schedule's expectations, scaled by how this run's finished tests
 * compared with theirs, divided over the workers), else from the rate so far.
 */
import cliProgress from 'cli-progress';
import type { Observable, Subscription } from 'rxjs';
import type { TrialDurations } from './duration-cache.js';
import type { TrialEvent } from './results.js';

/** What a terminal stream offers (process.stderr does). */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface TrialProgressOptions {
  /** Where the bar is drawn; nothing is drawn unless it is a TTY. */
  readonly stream: ProgressStream;
  /** The run's duration cache, for the ETA from expected durations. */
  readonly durations?: TrialDurations;
  /** Clock in milliseconds (tests). */
  readonly now?: () => number;
}

/** The counters the status text is made from. */
export interface ProgressState {
  readonly total: number;
  readonly finished: number;
  readonly failed: number;
  readonly workers: number;
  readonly elapsedMs: number;
  /** Expected milliseconds of every test of the run, when the cache knew any. */
  readonly expectedTotalMs?: number;
  /** Expected and measured milliseconds of the finished tests. */
  readonly expectedFinishedMs?: number;
  readonly measuredFinishedMs?: number;
}

/** How far the measured/expected ratio may scale the expected remainder (one odd test must not swing the ETA wildly). */
const MIN_SPEED = 0.25;
const MAX_SPEED = 4;

/**
 * Milliseconds until the run ends, or undefined before anything can be said. From expectations:
 * what is expected to remain, times how this run compares with the recorded ones, spread over the
 * workers. From the rate: the mean wall time per finished test so far, times the tests left.
 */
export function estimateRemainingMs(state: ProgressState): number | undefined {
  const left = state.total - state.finished;
  if (left <= 0) return 0;
  if (state.expectedTotalMs !== undefined) {
    const expectedFinished = state.expectedFinishedMs ?? 0;
    const measured = state.measuredFinishedMs ?? 0;
    const speed = expectedFinished > 0 && measured > 0 ? Math.min(MAX_SPEED, Math.max(MIN_SPEED, measured / expectedFinished)) : 1;
    return (Math.max(0, state.expectedTotalMs - expectedFinished) * speed) / Math.max(1, state.workers);
  }
  if (state.finished === 0) return undefined;
  return (state.elapsedMs / state.finished) * left;
}

/** `42s`, `3m05s`, `1h02m`. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** The text beside the bar: `12/300 tests, 1 failed, 4s elapsed, ETA 9s`. */
export function statusText(state: ProgressState): string {
  const remaining = estimateRemainingMs(state);
  return [
    `${state.finished}/${state.total} tests`,
    ...(state.failed > 0 ? [`${state.failed} failed`] : []),
    `${formatDuration(state.elapsedMs)} elapsed`,
    `ETA ${remaining === undefined ? '?' : formatDuration(remaining)}`,
  ].join(', ');
}

const FAILING = new Set(['failure', 'error']);

const SAVE_CURSOR = '\x1b7';
const RESTORE_CURSOR = '\x1b8';

/**
 * The stream as cli-progress sees it, without its cursor save (at start) and restore (at stop):
 * when the report shares the terminal, the saved position is lines above by the end, and restoring
 * it would clear a line of the report. The bar always stays on the current line, so nothing is lost.
 */
function barTerminal(stream: ProgressStream): NodeJS.WritableStream {
  return Object.assign(Object.create(stream) as NodeJS.WritableStream, {
    write: (chunk: string | Uint8Array, ...rest: unknown[]): boolean =>
      chunk === SAVE_CURSOR || chunk === RESTORE_CURSOR ? true : (stream.write as (...args: unknown[]) => boolean)(chunk, ...rest),
  });
}

export class TrialProgress {
  private readonly bar: cliProgress.SingleBar;
  private readonly subscription: Subscription;
  private readonly now: () => number;
  private startedAt = 0;
  private total = 0;
  private workers = 1;
  private finished = 0;
  private failed = 0;
  private expectedFinishedMs = 0;
  private measuredFinishedMs = 0;
  private active = false;

  private constructor(
    events$: Observable<TrialEvent>,
    private readonly options: TrialProgressOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.bar = new cliProgress.SingleBar({
      stream: barTerminal(options.stream),
      format: '{bar} {status}',
      barsize: 30,
      // Report text written above the bar clears its line (`clearForReport`): redraw even when unchanged.
      forceRedraw: true,
      clearOnComplete: true,
      hideCursor: false,
      // Truncate the bar to the width instead of switching the terminal's autowrap off: a report
      // sharing the terminal keeps wrapping its long lines (tracebacks) while the bar is up.
      linewrap: true,
    }, cliProgress.Presets.shades_classic);
    this.subscription = events$.subscribe({
      next: (event) => this.take(event),
      error: () => this.stop(),
      complete: () => this.stop(),
    });
  }

  /** Draws the progress of the run behind `events$` on `options.stream` if it is a TTY; else undefined, nothing drawn. */
  static attach(events$: Observable<TrialEvent>, options: TrialProgressOptions): TrialProgress | undefined {
    if (options.stream.isTTY !== true) return undefined;
    return new TrialProgress(events$, options);
  }

  /** The counters now. */
  state(): ProgressState {
    const expectedMs = this.options.durations?.scheduled?.expectedMs;
    let expectedTotalMs: number | undefined;
    if (expectedMs !== undefined) {
      expectedTotalMs = 0;
      for (const ms of expectedMs.values()) expectedTotalMs += ms;
    }
    return {
      total: this.total,
      finished: this.finished,
      failed: this.failed,
      workers: this.workers,
      elapsedMs: this.active ? this.now() - this.startedAt : 0,
      ...(expectedTotalMs === undefined ? {} : { expectedTotalMs, expectedFinishedMs: this.expectedFinishedMs, measuredFinishedMs: this.measuredFinishedMs }),
    };
  }

  /**
   * Clears the bar's line, for a report that shares the terminal (stdout on the same TTY): call it
   * before writing report text; the bar redraws itself below that text on its next tick. The
   * report itself is never changed.
   */
  clearForReport(): void {
    if (this.active) this.options.stream.write('\r\x1b[2K');
  }

  /** Removes the bar (idempotent); the run's end does this by itself. */
  stop(): void {
    this.subscription?.unsubscribe();
    if (!this.active) return;
    this.active = false;
    this.bar.stop();
  }

  private take(event: TrialEvent): void {
    switch (event.type) {
      case 'started':
        this.total = event.tests;
        this.workers = Math.max(1, event.workers);
        this.startedAt = this.now();
        this.active = true;
        this.bar.start(this.total, 0, { status: statusText(this.state()) });
        break;
      case 'test': {
        this.finished += 1;
        if (event.results.some((result) => FAILING.has(result.outcome))) this.failed += 1;
        const expected = this.options.durations?.scheduled?.expectedMs?.get(event.test);
        if (expected !== undefined) {
          this.expectedFinishedMs += expected;
          this.measuredFinishedMs += event.durationMs;
        }
        if (this.active) this.bar.update(this.finished, { status: statusText(this.state()) });
        break;
      }
      case 'done':
        this.stop();
        break;
      default:
        break;
    }
  }
}
