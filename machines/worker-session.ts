import { assign, setup } from 'xstate';

/**
 * A worker's life towards its master (worker-protocol.md §4): connect, log in, serve the master,
 * and after any loss wait out Buildbot's backoff before connecting again. Driven by control events
 * from the WorkerSession only (never per box or per command); the session owns the timers and the
 * sockets and reads the counters here to compute the delay.
 *
 * Two counters, because Buildbot has two behaviours: the backoff exponent resets whenever TCP
 * connects (so a refused password retries every 1–2.5 s forever), while `maxRetries` counts
 * failures since the worker was last attached, so a refused login can still give up.
 */
export type WorkerSessionEvent =
  | { type: 'connected' }
  | { type: 'connectFailed'; reason: string }
  | { type: 'loggedIn'; transferWindow: number }
  | { type: 'loginRefused'; reason: string }
  | { type: 'connectionLost'; reason: string }
  | { type: 'retry' }
  | { type: 'stop'; reason: WorkerSessionStopReason };

export type WorkerSessionStopReason = 'shutdown' | 'stopped' | 'gave-up';

export interface WorkerSessionContext {
  /** Twisted ClientService's failed-attempt count: the backoff exponent. Reset when TCP connects. */
  attempt: number;
  /** Failures since the last successful login; compared with `maxRetries`. */
  failures: number;
  readonly maxRetries: number | undefined;
  transferWindow: number | undefined;
  lastError: string | undefined;
  stopReason: WorkerSessionStopReason | undefined;
}

export interface WorkerSessionInput {
  /** Give up after this many failures in a row (as Buildbot's `maxRetries`); undefined retries forever. */
  readonly maxRetries?: number;
}

/** Buildbot's (Twisted's) retry delay for the n-th failed attempt: min(1.5ⁿ, 60) s plus U(0, 1) s. */
export function reconnectDelaySeconds(attempt: number, random: () => number = Math.random): number {
  return Math.min(1.5 ** Math.min(attempt, 100), 60) + random();
}

export const workerSessionMachine = setup({
  types: {
    context: {} as WorkerSessionContext,
    events: {} as WorkerSessionEvent,
    input: {} as WorkerSessionInput,
  },
  guards: {
    retriesExhausted: ({ context }) => context.maxRetries !== undefined && context.maxRetries > 0 && context.failures >= context.maxRetries,
  },
  actions: {
    recordFailure: assign({
      attempt: ({ context }) => context.attempt + 1,
      failures: ({ context }) => context.failures + 1,
      transferWindow: undefined,
    }),
    recordReason: assign({
      lastError: ({ context, event }) => ('reason' in event && typeof event.reason === 'string' ? event.reason : context.lastError),
    }),
    resetAttempt: assign({ attempt: 0 }),
    attach: assign({
      failures: 0,
      lastError: undefined,
      transferWindow: ({ event }) => (event.type === 'loggedIn' ? event.transferWindow : undefined),
    }),
    recordStop: assign({
      stopReason: ({ event }) => (event.type === 'stop' ? event.reason : 'stopped'),
    }),
    giveUp: assign({ stopReason: 'gave-up' as const }),
  },
}).createMachine({
  id: 'workerSession',
  context: ({ input }) => ({
    attempt: 0,
    failures: 0,
    maxRetries: input.maxRetries,
    transferWindow: undefined,
    lastError: undefined,
    stopReason: undefined,
  }),
  initial: 'connecting',
  on: {
    stop: { target: '.stopped', actions: 'recordStop' },
  },
  states: {
    /** A TCP (or TLS, or unix) connection attempt is under way. */
    connecting: {
      on: {
        // Twisted resets its failure count as soon as the transport connects, before any login.
        connected: { target: 'authenticating', actions: 'resetAttempt' },
        connectFailed: { target: 'disconnected', actions: ['recordReason', 'recordFailure'] },
      },
    },
    /** Login is sent; the master answers nothing else until it succeeds. */
    authenticating: {
      on: {
        loggedIn: { target: 'attached', actions: 'attach' },
        loginRefused: { target: 'disconnected', actions: ['recordReason', 'recordFailure'] },
        connectionLost: { target: 'disconnected', actions: ['recordReason', 'recordFailure'] },
      },
    },
    /** Serving the master: commands run; they are all killed when this state is left. */
    attached: {
      on: {
        connectionLost: { target: 'disconnected', actions: ['recordReason', 'recordFailure'] },
      },
    },
    /** Waiting out the backoff; nothing is resumed after it (every reconnect is a fresh handshake). */
    disconnected: {
      always: { guard: 'retriesExhausted', target: 'stopped', actions: 'giveUp' },
      on: { retry: 'connecting' },
    },
    stopped: { type: 'final' },
  },
});

export type WorkerSessionMachine = typeof workerSessionMachine;
