import { and, assign, fromPromise, not, setup } from 'xstate';

/**
 * A machine using every kind of transition the exporter draws, so the export tests cover kinds the
 * protocol machines happen not to use today. Several states can only be reached through one kind
 * of edge (`timedOut` through `after`, `retrying` through an actor's error, `working` through its
 * done, `finished` through a state's onDone), so a diagram that drops that kind leaves them
 * unreachable.
 */
export const everyTransitionKindMachine = setup({
  types: {
    context: {} as { ticks: number },
    events: {} as { type: 'go' } | { type: 'tick' } | { type: 'reset' } | { type: 'toggle' } | { type: 'stop' },
  },
  actors: { fetcher: fromPromise(async () => 1) },
  guards: { ready: () => true, allowed: () => true },
  delays: { backoff: 100 },
  actions: { countTick: assign({ ticks: ({ context }) => context.ticks + 1 }) },
}).createMachine({
  id: 'fixture',
  context: { ticks: 0 },
  initial: 'idle',
  // Applies in every state, except where a state below handles `stop` itself (download.receiving).
  on: { stop: '.stopped' },
  states: {
    idle: {
      on: {
        go: [{ guard: 'ready', target: 'loading' }, { target: 'waiting' }],
        // Targetless: actions only, left out of the diagram.
        tick: { actions: 'countTick' },
      },
    },
    waiting: { after: { 5000: 'timedOut' } },
    timedOut: { on: { go: 'loading' } },
    loading: { invoke: { src: 'fetcher', onDone: 'working', onError: 'retrying' } },
    retrying: { after: { backoff: 'loading' } },
    working: {
      type: 'parallel',
      onDone: 'finished',
      states: {
        upload: {
          initial: 'sending',
          states: {
            sending: { always: { guard: 'allowed', target: 'sent' } },
            sent: { type: 'final' },
          },
        },
        download: {
          initial: 'receiving',
          on: { reset: '.receiving' },
          states: {
            receiving: { on: { toggle: 'received', stop: 'received' } },
            received: { type: 'final' },
          },
        },
      },
    },
    finished: {
      on: { go: { guard: and(['ready', not('allowed')]), target: 'idle' } },
    },
    stopped: { type: 'final' },
  },
});
