import { assign, setup } from 'xstate';

/**
 * The life of a trial worker pool (docs/trial-protocol.md §1, §1.4), one per manager run. The
 * manager sends only control events: one per worker process (spawned, exited) and one per phase
 * (tests listed, queue drained, stop); never one per box or per test.
 *
 * spawning → ready → running → stopping → stopped, or crashed when no worker is left before the
 * queue drained (the manager then reports each remaining test as an error, never silence). Both
 * final states are reached only once every spawned worker's exit is known, so the manager settles
 * its run on the pool's final state and reads which one it is.
 *
 * Side effect, supplied by the manager with `provide`: `closeWorkers` (entering stopping) closes
 * fd 3 of every live worker.
 */
export type TrialWorkerPoolEvent =
  /** A worker process is up (it was spawned; its fds 3/4 are open). */
  | { type: 'workerSpawned'; worker: number }
  /** The list of test ids is known; `count` may be 0 (then no Run is ever sent). */
  | { type: 'testsListed'; count: number }
  /** Every queued test has its outcome. */
  | { type: 'drained' }
  /** Start closing fd 3 of every worker (also used to abort early). */
  | { type: 'stop' }
  /** A worker process ended; `clean` is exit status 0 after we closed its fd 3. */
  | { type: 'workerExited'; worker: number; clean: boolean };

export interface TrialWorkerPoolContext {
  /** Workers the pool means to run: min(tests, -j) once known, -j before that. */
  size: number;
  spawned: number;
  exited: number;
  crashed: number;
  /** Undefined until the test list is known. */
  tests: number | undefined;
}

export const trialWorkerPoolMachine = setup({
  types: {
    context: {} as TrialWorkerPoolContext,
    events: {} as TrialWorkerPoolEvent,
    input: {} as { size: number },
  },
  guards: {
    allSpawned: ({ context }) => context.spawned >= context.size,
    listed: ({ context }) => context.tests !== undefined,
    noTests: ({ context }) => context.tests === 0,
    allExited: ({ context }) => context.exited >= context.spawned,
    // Every worker of a full pool ended (crashed, or exited unasked) before the queue drained.
    noWorkerLeft: ({ context }) => context.spawned > 0 && context.exited >= context.spawned,
  },
  actions: {
    countSpawn: assign({ spawned: ({ context }) => context.spawned + 1 }),
    countExit: assign({
      exited: ({ context }) => context.exited + 1,
      crashed: ({ context, event }) =>
        context.crashed + (event.type === 'workerExited' && !event.clean ? 1 : 0),
    }),
    recordTests: assign({
      tests: ({ event }) => (event.type === 'testsListed' ? event.count : undefined),
      // Twisted starts min(tests, -j) workers; an eager pool stops the surplus before Start.
      size: ({ context, event }) =>
        event.type === 'testsListed' ? Math.min(context.size, Math.max(event.count, 0)) : context.size,
    }),
    // Supplied by the manager: the pool itself has no processes.
    closeWorkers: () => undefined,
  },
}).createMachine({
  id: 'trialWorkerPool',
  context: ({ input }) => ({ size: input.size, spawned: 0, exited: 0, crashed: 0, tests: undefined }),
  initial: 'spawning',
  states: {
    /** Processes are starting; the test list may arrive first (eager spawning) or already be known. */
    spawning: {
      always: [
        { guard: 'noTests', target: 'stopping' },
        { guard: 'allSpawned', target: 'ready' },
      ],
      on: {
        workerSpawned: { actions: 'countSpawn' },
        testsListed: { actions: 'recordTests' },
        workerExited: { actions: 'countExit' },
        stop: 'stopping',
      },
    },
    /** Every worker is up: Start and the first Run go out as soon as the tests are known. */
    ready: {
      always: [
        { guard: 'noTests', target: 'stopping' },
        { guard: 'noWorkerLeft', target: 'crashed' },
        { guard: 'listed', target: 'running' },
      ],
      on: {
        testsListed: { actions: 'recordTests' },
        workerExited: { actions: 'countExit' },
        stop: 'stopping',
      },
    },
    /** Runs are handed out one at a time per worker from the shared queue. */
    running: {
      always: { guard: 'noWorkerLeft', target: 'crashed' },
      on: {
        drained: 'stopping',
        workerExited: { actions: 'countExit' },
        stop: 'stopping',
      },
    },
    /** fd 3 of every worker is closed; we wait for each process to end (≥22.8 behaviour). */
    stopping: {
      entry: 'closeWorkers',
      always: { guard: 'allExited', target: 'stopped' },
      on: {
        workerSpawned: { actions: 'countSpawn' },
        workerExited: { actions: 'countExit' },
      },
    },
    stopped: { type: 'final' },
    /** No worker left with tests not drained: the remaining tests are reported as errors. */
    crashed: { type: 'final' },
  },
});
