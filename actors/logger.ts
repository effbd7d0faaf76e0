import { pino, type Logger } from 'pino';

/**
 * The logger used when the application passes none. Quiet by default, as a library should be;
 * `AMPSTATE_LOG_LEVEL=info` shows Twisted-style connection lines.
 */
export const defaultLogger: Logger = pino(
  { name: 'ampstate', level: process.env.AMPSTATE_LOG_LEVEL ?? 'warn' },
  // stderr, so that a CLI's stdout carries only its results.
  pino.destination(2),
);

export type { Logger };
