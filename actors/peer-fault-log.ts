/**
 * What a peer's protocol error costs in logs (a malformed box, an oversized key, an unknown tag, a
 * bad argument, an undecodable frame): one warn line per connection, with the message, the error's
 * code and the peer, never a stack (the fault is the peer's, not ours), and only within the
 * process-wide budget. Later faults of the same connection go to debug.
 */
import { LogRateLimiter, type LogRateLimitSettings } from './log-rate-limit.js';
import type { Logger } from './logger.js';

/** Defaults: ten lines a second for the whole process, plus one summary of the rest. */
const peerFaultBudget = new LogRateLimiter({ lines: 10, windowMs: 1000 }, 'protocol-error');

/** Sets the process-wide budget for peers' protocol errors (the current window ends first). */
export function configurePeerFaultLogging(settings: LogRateLimitSettings): void {
  peerFaultBudget.configure(settings);
}

/** Writes the summary of what the current window held back, now (e.g. before exiting). */
export function flushPeerFaultLog(): void {
  peerFaultBudget.endWindow();
}

/** Loggers that have written their connection's one warn line. */
const reported = new WeakSet<Logger>();

/**
 * Logs a fault the peer caused; `cause` gives the code and the reason, `peer` is asked only when a
 * line is written. `logger` must be the connection's own child logger: it is what "once per
 * connection" counts by.
 */
export function reportPeerFault(
  logger: Logger,
  message: string,
  cause: unknown,
  peer: () => string,
  fields?: Readonly<Record<string, unknown>>,
): void {
  const first = !reported.has(logger);
  reported.add(logger);
  if (!logger.isLevelEnabled(first ? 'warn' : 'debug')) return;
  if (first && !peerFaultBudget.admit(logger)) return;
  const { code, message: reason } = (cause ?? {}) as { code?: unknown; message?: unknown };
  const line = {
    ...fields,
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof reason === 'string' ? { reason } : {}),
    peer: peer(),
  };
  if (first) logger.warn(line, message);
  else logger.debug(line, message);
}
