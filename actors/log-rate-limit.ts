/**
 * A budget for log lines: at most `lines` in each window of `windowMs`; the rest are counted and
 * summed up in one line when the window ends. What a remote peer can make us log goes through one
 * such budget for the whole process (see peer-fault-log.ts), so that no number of hostile
 * connections turns a few bytes received into kilobytes written.
 */
import type { Logger } from './logger.js';

export interface LogRateLimitSettings {
  /** Lines written at most in one window. */
  readonly lines: number;
  /** The window's length, in milliseconds. */
  readonly windowMs: number;
}

export class LogRateLimiter {
  private written = 0;
  private suppressed = 0;
  private windowTimer: NodeJS.Timeout | undefined;
  /** Where the summary goes: the logger of the last line held back. */
  private summaryLogger: Logger | undefined;

  constructor(
    private settings: LogRateLimitSettings,
    /** What the lines are, for the summary: `suppressed K <kind> lines`. */
    private readonly kind: string,
  ) {}

  /** New limits; the current window ends first (with its summary). */
  configure(settings: LogRateLimitSettings): void {
    this.endWindow();
    this.settings = settings;
  }

  /** Whether a line may be written now. One that may not is counted for the window's summary. */
  admit(logger: Logger): boolean {
    if (this.windowTimer === undefined) {
      this.windowTimer = setTimeout(() => this.endWindow(), this.settings.windowMs);
      // A window still open must not keep a process alive that has nothing else to do.
      this.windowTimer.unref();
    }
    if (this.written < this.settings.lines) {
      this.written++;
      return true;
    }
    this.suppressed++;
    this.summaryLogger = logger;
    return false;
  }

  /** Ends the current window now: writes its summary, if it held anything back, and resets the budget. */
  endWindow(): void {
    clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    const { suppressed, summaryLogger } = this;
    this.written = 0;
    this.suppressed = 0;
    this.summaryLogger = undefined;
    if (suppressed > 0) summaryLogger?.warn({ suppressed }, `suppressed ${suppressed} ${this.kind} lines`);
  }
}
