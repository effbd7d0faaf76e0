import { assign, setup } from 'xstate';

/**
 * One remote command on the master (docs/master-worker-protocol.md §2.1, §4): started on the worker, running until its
 * `complete`, possibly interrupted on the way. A disconnect ends it at once (Buildbot's RETRY)
 * without waiting for a `complete` that can no longer come.
 *
 * Only control events arrive here (start answered, interrupt asked, complete, disconnect); the
 * updates themselves (every output line) never pass through the machine.
 */
export type RemoteCommandEvent =
  | { type: 'start' }
  | { type: 'started' }
  | { type: 'startFailed' }
  | { type: 'interrupt'; why: string }
  | { type: 'complete'; failed: boolean }
  | { type: 'disconnected' };

export interface RemoteCommandContext {
  interrupted: boolean;
  why: string | undefined;
}

export const remoteCommandMachine = setup({
  types: {
    context: {} as RemoteCommandContext,
    events: {} as RemoteCommandEvent,
  },
  guards: {
    completedWithFailure: ({ event }) => event.type === 'complete' && event.failed,
  },
  actions: {
    markInterrupted: assign({
      interrupted: true,
      why: ({ event }) => (event.type === 'interrupt' ? event.why : undefined),
    }),
    // Provided by the actor.
    sendStart: () => undefined,
    announceStarted: () => undefined,
    sendInterrupt: () => undefined,
    finish: () => undefined,
  },
}).createMachine({
  id: 'remoteCommand',
  context: { interrupted: false, why: undefined },
  initial: 'idle',
  states: {
    /** Not run yet; an interrupt now is a no-op, as Buildbot ignores it on an inactive command. */
    idle: {
      on: { start: 'starting' },
    },
    /**
     * StartCommand is on the wire. An interrupt can be sent now: it travels after the start on
     * the same connection, so the worker sees them in order.
     */
    starting: {
      entry: 'sendStart',
      on: {
        started: 'running',
        startFailed: 'failed',
        interrupt: { target: 'interrupting', actions: ['markInterrupted', 'sendInterrupt'] },
        // An in-process worker may finish before its start answer is seen.
        complete: [{ guard: 'completedWithFailure', target: 'failed' }, { target: 'completed' }],
        disconnected: 'disconnected',
      },
    },
    running: {
      entry: 'announceStarted',
      on: {
        interrupt: { target: 'interrupting', actions: ['markInterrupted', 'sendInterrupt'] },
        complete: [{ guard: 'completedWithFailure', target: 'failed' }, { target: 'completed' }],
        disconnected: 'disconnected',
      },
    },
    /** Interrupt sent; the worker still sends output, an rc and always a `complete`. */
    interrupting: {
      on: {
        started: {},
        startFailed: 'failed',
        complete: [{ guard: 'completedWithFailure', target: 'failed' }, { target: 'completed' }],
        disconnected: 'disconnected',
      },
    },
    completed: { type: 'final', entry: 'finish' },
    /** The start was refused, or the worker completed with a failure (step EXCEPTION). */
    failed: { type: 'final', entry: 'finish' },
    /** The worker went away mid-command (RETRY); its process may or may not have been killed. */
    disconnected: { type: 'final', entry: 'finish' },
  },
});
