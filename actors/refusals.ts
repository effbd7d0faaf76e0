/**
 * What a listener refuses, and how it tells: one warn line per refusal (no stack: a refusal is an
 * expected outcome, not a fault) and one typed event on `refusals$`, for operators and tests.
 * Every listener (plain AMP, the master's AMP and msgpack ones) reports through a {@link RefusalLog}.
 * A flood of refusals is a flood of log lines an attacker chooses, so the lines have a budget per
 * listener (the rest are summed up in one line a second); the events have none.
 */
import { Subject, type Observable } from 'rxjs';
import { AmpStateError } from '../codec/errors.js';
import { LogRateLimiter } from './log-rate-limit.js';
import type { Logger } from './logger.js';

/** Refusal lines a listener writes at most per second; the events are not limited. */
export const REFUSAL_LINES_PER_SECOND = 20;

export type RefusalReason =
  /** The password is wrong for a registered worker. */
  | 'bad-credentials'
  /** No worker of that name is registered (the peer gets the same answer as for a wrong password). */
  | 'unknown-worker'
  /** Credentials that cannot be read (msgpack: an Authorization header that is not Basic). */
  | 'malformed-credentials'
  /** No credentials at all (msgpack: no Authorization header). */
  | 'missing-credentials'
  /** Too many failed logins from the address or for the name: the answer was delayed, or refused. */
  | 'throttled'
  /** The listener already holds its maximum of open connections; this one was closed at once. */
  | 'connection-cap'
  /** A plain AMP connection sent no complete box in time. */
  | 'first-box-deadline'
  /** A worker connection did not log in in time. */
  | 'login-deadline'
  /** Nothing was received or sent for the idle timeout. */
  | 'idle-timeout'
  /** Right credentials, but not admitted: the name's old connection is alive, or it was unregistered meanwhile. */
  | 'not-admitted'
  /** The listener is stopping. */
  | 'stopping';

export interface Refusal {
  readonly reason: RefusalReason;
  /** The peer's address (`ip:port`, a unix socket's path, or 'unknown' for an in-process transport). */
  readonly address: string;
  /** The worker name the peer claimed, when it got as far as claiming one. */
  readonly workerName?: string;
  /** For a throttled login: how long the answer was held back, in milliseconds (0: refused at once). */
  readonly delayMs?: number;
  readonly at: Date;
}

/** Why a listener closed a connection it had accepted (a deadline, the idle timeout, the cap). */
export class ConnectionRefusedError extends AmpStateError {
  override readonly code = 'AMP_ERR_CONNECTION_REFUSED';
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
  }
}

/** A socket's peer as refusals name it. */
export function peerAddress(socket: { readonly remoteAddress?: string; readonly remotePort?: number } | undefined): string {
  const host = socket?.remoteAddress;
  if (host === undefined) return 'unknown';
  return host.includes(':') ? `[${host}]:${socket?.remotePort ?? 0}` : `${host}:${socket?.remotePort ?? 0}`;
}

/** The host part of a {@link peerAddress}: what login throttling counts failures by. */
export function peerHost(address: string): string | undefined {
  if (address === 'unknown') return undefined;
  const bracketed = /^\[(.*)\]:\d+$/.exec(address);
  if (bracketed !== null) return bracketed[1];
  const colon = address.lastIndexOf(':');
  return colon < 0 ? address : address.slice(0, colon);
}

export class RefusalLog {
  private readonly subject = new Subject<Refusal>();
  private readonly budget = new LogRateLimiter({ lines: REFUSAL_LINES_PER_SECOND, windowMs: 1000 }, 'refusal');

  constructor(private readonly logger: Logger) {}

  /** Every refusal, as it happens. Completes when the listener stops. */
  get refusals$(): Observable<Refusal> {
    return this.subject.asObservable();
  }

  /** Logs the refusal once, at warn, and publishes it. `message` says what happened in words. */
  refuse(refusal: Omit<Refusal, 'at'>, message: string): void {
    const event: Refusal = { ...refusal, at: new Date() };
    const { at: _at, ...fields } = event;
    if (this.logger.isLevelEnabled('warn') && this.budget.admit(this.logger)) this.logger.warn(fields, message);
    this.subject.next(event);
  }

  /** Ends `refusals$`, after the summary of any lines held back. */
  complete(): void {
    this.budget.endWindow();
    this.subject.complete();
  }
}
