import { assign, setup } from 'xstate';

/**
 * A worker's life towards its master (docs/master-worker-protocol.md §4): connect, log in, serve the master,
 * and after any loss wait out Buildbot's backoff before connecting again. Driven by control events
 * from the WorkerSession only (never per box or per command). The machine decides what happens
 * next; the session supplies the side effects as provided actions (open a connection, send Login,
 * schedule or cancel the retry, drop an attempt, shut down) and reads the counters here to compute
 * the delay.
 *
 * Two counters, because Buildbot has two behaviours: the backoff exponent resets whenever TCP
 * connects (so a refused password retries every 1–2.5 s forever), while `maxRetries` counts
 * failures since the worker was last attached, so a refused login can still give up.
 */
export type WorkerSessionEvent =
  | { type: 'start' }
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
    // Decided on the failure itself, so a session that gives up never schedules a retry first.
    lastFailureAllowed: ({ context }) => context.maxRetries !== undefined && context.maxRetries > 0 && context.failures + 1 >= context.maxRetries,
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
    // Provided by the session: the side effects of each state.
    openConnection: () => undefined,
    sendLogin: () => undefined,
    announceAttached: () => undefined,
    dropAttempt: () => undefined,
    scheduleRetry: () => undefined,
    cancelRetry: () => undefined,
    shutDown: () => undefined,
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
  initial: 'idle',
  on: {
    stop: { target: '.stopped', actions: 'recordStop' },
  },
  states: {
    /** Created, not started: a stop now ends the session without it ever connecting. */
    idle: {
      on: { start: 'connecting' },
    },
    /** A TCP (or TLS, or unix) connection attempt is under way. */
    connecting: {
      entry: 'openConnection',
      on: {
        // Twisted resets its failure count as soon as the transport connects, before any login.
        connected: { target: 'authenticating', actions: 'resetAttempt' },
        connectFailed: failure(),
      },
    },
    /** Login is sent; the master answers nothing else until it succeeds. */
    authenticating: {
      entry: 'sendLogin',
      on: {
        loggedIn: { target: 'attached', actions: 'attach' },
        loginRefused: failure(),
        connectionLost: failure(),
      },
    },
    /** Serving the master: commands run; they are all killed when this state is left. */
    attached: {
      entry: 'announceAttached',
      on: {
        connectionLost: failure(),
      },
    },
    /** Waiting out the backoff; nothing is resumed after it (every reconnect is a fresh handshake). */
    disconnected: {
      entry: ['dropAttempt', 'scheduleRetry'],
      exit: 'cancelRetry',
      on: { retry: 'connecting' },
    },
    /** The session drops the attempt (commands killed, connection closed) and settles its bookkeeping. */
    stopped: { type: 'final', entry: 'shutDown' },
  },
});

/** Any failure: count it, then wait out the backoff, or give up if that was the last one allowed. */
function failure() {
  return [
    { guard: 'lastFailureAllowed', target: 'stopped', actions: ['recordReason', 'recordFailure', 'giveUp'] },
    { target: 'disconnected', actions: ['recordReason', 'recordFailure'] },
  ] as const;
}

export type WorkerSessionMachine = typeof workerSessionMachine;
