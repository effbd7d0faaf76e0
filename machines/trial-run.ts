import { assign, setup } from 'xstate';

/**
 * One worker's run lifecycle (docs/trial-protocol.md §4), seen from either side: the manager runs one
 * per worker process it drives, the TypeScript worker runs one for itself. Events are per phase
 * (Start, each Run, its answer, its report), so a Run costs a constant number of events however many
 * boxes its results take.
 *
 * idle → starting → running → reporting → running … → stopping → stopped, or crashed when the
 * process or connection ends unexpectedly (the current test then gets an error).
 */
export type TrialRunEvent =
  /** Start(directory) sent (manager) or received (worker); Run may follow without waiting. */
  | { type: 'start'; directory: string }
  /** Run(testCase) sent or received. */
  | { type: 'run'; test: string }
  /** The Run answer arrived (manager) or the test finished (worker): results are being reported. */
  | { type: 'answered' }
  /** Results for the current test were handed over (reporter / manager). */
  | { type: 'reported'; outcomes: number }
  /** No more Runs: fd 3 closed (manager) or EOF seen (worker). */
  | { type: 'stop' }
  /** The worker process ended or the connection was lost. */
  | { type: 'ended'; clean: boolean; reason?: string };

export interface TrialRunContext {
  directory: string | undefined;
  test: string | undefined;
  runs: number;
  /** Runs answered with no outcome at all (Twisted 22.4 drops results over 64 KiB, docs/trial-protocol.md §5). */
  silentRuns: number;
  endReason: string | undefined;
}

export const trialRunMachine = setup({
  types: {
    context: {} as TrialRunContext,
    events: {} as TrialRunEvent,
  },
  guards: {
    clean: ({ event }) => event.type === 'ended' && event.clean,
  },
  actions: {
    recordStart: assign({ directory: ({ event }) => (event.type === 'start' ? event.directory : undefined) }),
    recordRun: assign({
      test: ({ event }) => (event.type === 'run' ? event.test : undefined),
      runs: ({ context }) => context.runs + 1,
    }),
    recordReport: assign({
      silentRuns: ({ context, event }) =>
        context.silentRuns + (event.type === 'reported' && event.outcomes === 0 ? 1 : 0),
      test: () => undefined,
    }),
    recordEnd: assign({
      endReason: ({ event }) => (event.type === 'ended' ? event.reason : undefined),
    }),
  },
}).createMachine({
  id: 'trialRun',
  context: { directory: undefined, test: undefined, runs: 0, silentRuns: 0, endReason: undefined },
  initial: 'idle',
  states: {
    /** Process up, nothing sent yet. */
    idle: {
      on: {
        start: { target: 'starting', actions: 'recordStart' },
        // A manager may skip Start (the worker then runs in the directory it was launched in).
        run: { target: 'running', actions: 'recordRun' },
        stop: 'stopping',
        ended: [{ guard: 'clean', target: 'stopped', actions: 'recordEnd' }, { target: 'crashed', actions: 'recordEnd' }],
      },
    },
    /** Start is out; its answer is never awaited (the manager pipelines the first Run). */
    starting: {
      on: {
        run: { target: 'running', actions: 'recordRun' },
        stop: 'stopping',
        ended: [{ guard: 'clean', target: 'stopped', actions: 'recordEnd' }, { target: 'crashed', actions: 'recordEnd' }],
      },
    },
    /** A Run is outstanding: every result that arrives belongs to it (the testName is ignored). */
    running: {
      on: {
        answered: 'reporting',
        ended: { target: 'crashed', actions: 'recordEnd' },
      },
    },
    /** The Run is over; its results go to the reporter before the next Run is taken. */
    reporting: {
      on: {
        reported: { target: 'between', actions: 'recordReport' },
        ended: { target: 'crashed', actions: 'recordEnd' },
      },
    },
    /** Between two Runs: the next one comes from the shared queue, or the worker is stopped. */
    between: {
      on: {
        run: { target: 'running', actions: 'recordRun' },
        stop: 'stopping',
        ended: [{ guard: 'clean', target: 'stopped', actions: 'recordEnd' }, { target: 'crashed', actions: 'recordEnd' }],
      },
    },
    /** fd 3 closed: the worker exits 0 at EOF; we wait for that. */
    stopping: {
      on: {
        ended: [{ guard: 'clean', target: 'stopped', actions: 'recordEnd' }, { target: 'crashed', actions: 'recordEnd' }],
      },
    },
    stopped: { type: 'final' },
    crashed: { type: 'final' },
  },
});
