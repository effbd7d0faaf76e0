import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';

/** How log lines look: pino's JSON lines, or pino-pretty's human text. */
export type LogFormat = 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/** Human-readable when a person watches the stream, JSON when a program or a file collects it. */
export function defaultLogFormat(stream: { isTTY?: boolean } = process.stderr): LogFormat {
  return stream.isTTY === true ? 'pretty' : 'json';
}

const require = createRequire(import.meta.url);

/**
 * A destination writing to file descriptor `fd` in `format`. Synchronous, so the last lines before
 * an exit are not lost. pino-pretty is loaded only when a pretty destination is made.
 */
export function createLogDestination(format: LogFormat, fd = 2): DestinationStream {
  if (format === 'json') return pino.destination({ dest: fd, sync: true });
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  return pretty({ destination: fd, sync: true, colorize: fd === 2 && process.stderr.isTTY === true });
}

/** stderr in the chosen format, made at the first line: a run that logs nothing loads nothing. */
class StderrDestination implements DestinationStream {
  private target: DestinationStream | undefined;
  constructor(private format: LogFormat) {}

  write(line: string): void {
    (this.target ??= this.format === 'json' ? pino.destination(2) : createLogDestination(this.format)).write(line);
  }

  use(format: LogFormat): void {
    this.format = format;
    this.target = undefined;
  }
}

// Libraries log JSON unless their application says otherwise; the CLI picks by terminal.
const stderrDestination = new StderrDestination('json');
let chosenFormat: LogFormat | undefined;

/**
 * The logger used when the application passes none. Quiet by default, as a library should be;
 * `AMPSTATE_LOG_LEVEL=info` shows Twisted-style connection lines. Lines go to stderr, so that a
 * CLI's stdout carries only its results.
 */
export const defaultLogger: Logger = pino({ name: 'ampstate', level: process.env.AMPSTATE_LOG_LEVEL ?? 'warn' }, stderrDestination);

/** Makes the default logger write in `format`, and records it for loggers made later ({@link currentLogFormat}). */
export function useLogFormat(format: LogFormat): void {
  chosenFormat = format;
  stderrDestination.use(format);
}

/** The format chosen with {@link useLogFormat}, else the one that suits stderr. */
export function currentLogFormat(): LogFormat {
  return chosenFormat ?? defaultLogFormat();
}

export type { Logger };
