/**
 * Model-based test: every path that xstate/graph finds through the framing statechart is turned
 * into the bytes it describes and fed to the integer BoxDecoder, whole and one byte at a time. At
 * every step the decoder must be in the machine's state, trace the same transition, and have
 * delivered the same boxes; the over-long-key path must end in KeyTooLongError.
 */
import { describe, expect, it } from 'vitest';
import { assign, createActor, type SnapshotFrom } from 'xstate';
import { getShortestPaths, getSimplePaths, type StatePath } from 'xstate/graph';
import {
  BoxDecoder,
  FRAMING_STATE_NAMES,
  FramingState,
  KeyTooLongError,
  MAX_KEY_LENGTH,
  type AmpBox,
  type FramingTrace,
} from '../../codec/index.js';
import { framingMachine, type FramingMachine, type FramingStringEvent } from '../../machines/framing.js';

type Snapshot = SnapshotFrom<FramingMachine>;
type Path = StatePath<Snapshot, FramingStringEvent>;
type StateName = Snapshot['value'];

const KEY_LENGTHS = [0, 1, 255, 256];
const VALUE_LENGTHS = [0, 1, 255, 256, 65535];

function eventsFor(snapshot: Snapshot): FramingStringEvent[] {
  const lengths = snapshot.value === 'value' ? VALUE_LENGTHS : snapshot.value === 'failed' ? [] : KEY_LENGTHS;
  return lengths.map((length) => ({ type: 'string', length }));
}

/** Counts are capped so the graph is finite; two boxes and two pairs already exercise every reset. */
const CAP = 2;

function plansOf(machine: FramingMachine): { name: string; plans: PlannedString[][] }[] {
  const shortest = getShortestPaths(machine, {
    events: eventsFor,
    stopWhen: (snapshot) => snapshot.context.boxes >= CAP || snapshot.context.pairs >= CAP,
    serializeState: (snapshot) =>
      `${snapshot.value}|${Math.min(snapshot.context.boxes, CAP)}|${Math.min(snapshot.context.pairs, CAP)}`,
  }) as Path[];
  // A shortest path to every (state, counters) plus each event possible there: every transition
  // with every payload from every reachable configuration, not just every state.
  const transitions = shortest.flatMap((path) => {
    const events = eventsOf(path);
    const next = eventsFor(snapshotAfter(machine, events));
    return next.length === 0 ? [events] : next.map((event) => [...events, event]);
  });
  // Every loop-free walk over (state, box delivered yet, pair read yet).
  const simple = getSimplePaths(machine, {
    events: eventsFor,
    serializeState: (snapshot) =>
      `${snapshot.value}|${Math.min(snapshot.context.boxes, 1)}|${Math.min(snapshot.context.pairs, 1)}`,
  }) as Path[];
  return [
    { name: 'every transition', plans: transitions.map((events) => planPath(machine, events)) },
    { name: 'simple paths', plans: simple.map((path) => planPath(machine, eventsOf(path))) },
  ];
}

function snapshotAfter(machine: FramingMachine, events: readonly FramingStringEvent[]): Snapshot {
  const actor = createActor(machine, { input: {} }).start();
  for (const event of events) actor.send(event);
  const snapshot = actor.getSnapshot();
  actor.stop();
  return snapshot;
}

function eventsOf(path: Path): FramingStringEvent[] {
  return path.steps.flatMap(({ event }) => (event.type === 'string' ? [event] : []));
}

interface PlannedString {
  readonly event: FramingStringEvent;
  readonly from: StateName;
  readonly to: StateName;
  readonly bytes: Buffer;
  readonly boxesAfter: number;
  readonly pairsAfter: number;
  /** The box this string completes (the terminator), assembled from the strings before it. */
  readonly delivered: AmpBox | undefined;
}

/**
 * The byte stream an event sequence describes. Bodies are position-dependent patterns so that a
 * decoder reading the wrong slice, or swapping key and value, produces a different box.
 *
 * Only the events are taken from xstate/graph: it keeps one snapshot per serialised state, so with
 * capped counters a step's snapshot may come from another route. Replaying the events through the
 * machine gives the states and context this exact sequence reaches.
 */
function planPath(machine: FramingMachine, events: readonly FramingStringEvent[]): PlannedString[] {
  const actor = createActor(machine, { input: {} }).start();
  let box = new Map<string, Buffer>();
  let key = '';
  const plan = events.map((event, index): PlannedString => {
    const from = actor.getSnapshot().value;
    actor.send(event);
    const state = actor.getSnapshot();
    const prefix = Buffer.from([event.length >>> 8, event.length & 0xff]);
    const overLongKey = from !== 'value' && event.length > MAX_KEY_LENGTH;
    const body = Buffer.alloc(overLongKey ? 0 : event.length);
    for (let i = 0; i < body.length; i++) body[i] = from === 'value' ? (index * 31 + i) & 0xff : 0x21 + ((index * 7 + i) % 90);
    let delivered: AmpBox | undefined;
    if (from === 'value') box.set(key, body);
    else if (!overLongKey && body.length === 0) {
      delivered = box;
      box = new Map();
    } else if (!overLongKey) key = body.toString('latin1');
    return {
      event,
      from,
      to: state.value,
      bytes: Buffer.concat([prefix, body]),
      boxesAfter: state.context.boxes,
      pairsAfter: state.context.pairs,
      delivered,
    };
  });
  actor.stop();
  return plan;
}

class Recorder {
  readonly boxes: AmpBox[] = [];
  readonly traces: FramingTrace[] = [];
  readonly errors: Error[] = [];
  readonly decoder = new BoxDecoder({
    onBox: (box) => this.boxes.push(box),
    onError: (error) => this.errors.push(error),
    onTrace: (trace) => this.traces.push(trace),
  });

  get stateName(): string {
    return FRAMING_STATE_NAMES[this.decoder.state]!;
  }
}

const boxEntries = (box: AmpBox | undefined) => (box === undefined ? undefined : [...box].map(([k, v]) => [k, v.toString('hex')]));

function traceOf(step: PlannedString) {
  return { length: step.event.length, from: step.from, to: step.to };
}

const namedTrace = (trace: FramingTrace) => ({
  length: trace.length,
  from: FRAMING_STATE_NAMES[trace.from],
  to: FRAMING_STATE_NAMES[trace.to],
});

/** Bytes after a failure that would form a valid box if the decoder wrongly kept reading. */
const TRAILER = Buffer.from('000161000162000000', 'hex');

function checkFailure(recorder: Recorder, step: PlannedString): void {
  expect(recorder.decoder.hasFailed).toBe(true);
  expect(recorder.errors).toHaveLength(1);
  const error = recorder.errors[0]!;
  expect(error).toBeInstanceOf(KeyTooLongError);
  expect((error as KeyTooLongError).keyLength).toBe(step.event.length);
  expect((error as KeyTooLongError).isLocal).toBe(false);
  // The integer decoder has no failed state of its own: it freezes where the bad prefix arrived.
  expect(recorder.stateName).toBe(step.from);
}

function runWhole(plan: PlannedString[]): void {
  const recorder = new Recorder();
  const failing = plan.at(-1)?.to === 'failed' ? plan.at(-1) : undefined;
  recorder.decoder.push(Buffer.concat([...plan.map((step) => step.bytes), ...(failing ? [TRAILER] : [])]));
  const traced = plan.filter((step) => step.to !== 'failed');
  expect(recorder.traces.map(namedTrace)).toEqual(traced.map(traceOf));
  expect(recorder.boxes.map(boxEntries)).toEqual(plan.flatMap((step) => (step.delivered ? [boxEntries(step.delivered)] : [])));
  expect(recorder.boxes).toHaveLength(plan.at(-1)?.boxesAfter ?? 0);
  if (failing) checkFailure(recorder, failing);
  else {
    expect(recorder.errors).toEqual([]);
    expect(recorder.stateName).toBe(plan.at(-1)?.to ?? 'init');
  }
}

function runBytewise(plan: PlannedString[]): void {
  const recorder = new Recorder();
  let pairsBefore = 0;
  for (const step of plan) {
    const tracesBefore = recorder.traces.length;
    const boxesBefore = recorder.boxes.length;
    // Until the last byte of the string arrives nothing may happen. Checked without expect() per
    // byte, which would dominate the run time for 64 KiB values.
    const fromCode = FramingState[step.from as keyof typeof FramingState];
    let earlyChange = -1;
    for (let i = 0; i < step.bytes.length; i++) {
      if (earlyChange < 0 && (recorder.decoder.state !== fromCode || recorder.errors.length > 0 || recorder.traces.length > tracesBefore)) earlyChange = i;
      recorder.decoder.push(step.bytes.subarray(i, i + 1));
    }
    expect(earlyChange, 'decoder reacted before the string was complete').toBe(-1);
    if (step.to === 'failed') {
      expect(recorder.traces).toHaveLength(tracesBefore);
      checkFailure(recorder, step);
      recorder.decoder.push(TRAILER);
      checkFailure(recorder, step);
      expect(recorder.boxes).toHaveLength(boxesBefore);
      continue;
    }
    expect(recorder.traces.slice(tracesBefore).map(namedTrace)).toEqual([traceOf(step)]);
    expect(recorder.stateName).toBe(step.to);
    expect(recorder.boxes).toHaveLength(step.boxesAfter);
    if (step.delivered) {
      expect(boxEntries(recorder.boxes.at(-1))).toEqual(boxEntries(step.delivered));
      // Keys within one planned box are all different, so the box holds exactly the machine's pairs.
      expect(recorder.boxes.at(-1)!.size).toBe(pairsBefore);
    }
    pairsBefore = step.pairsAfter;
  }
  expect(recorder.decoder.bufferedLength).toBe(0);
}

function describePath(plan: PlannedString[]): string {
  return plan.map((step) => `${step.from}-${step.event.length}->${step.to}`).join(' ') || '(empty stream)';
}

describe('framing machine vs BoxDecoder', () => {
  for (const { name, plans } of plansOf(framingMachine)) {
    describe(name, () => {
      it('covers every state and every transition with every payload', () => {
        const endings = new Set(plans.map((plan) => plan.at(-1)?.to ?? 'init'));
        expect([...endings].sort()).toEqual(['failed', 'init', 'key', 'value']);
        const seen = new Set(plans.flatMap((plan) => plan.map((step) => `${step.from}-${step.event.length}->${step.to}`)));
        const expected = [
          ...KEY_LENGTHS.map((n) => `init-${n}->${n === 0 ? 'init' : n > MAX_KEY_LENGTH ? 'failed' : 'value'}`),
          ...KEY_LENGTHS.map((n) => `key-${n}->${n === 0 ? 'init' : n > MAX_KEY_LENGTH ? 'failed' : 'value'}`),
          ...VALUE_LENGTHS.map((n) => `value-${n}->key`),
        ];
        expect([...seen].sort()).toEqual(expected.sort());
      });

      it.each(plans.map((plan) => [describePath(plan), plan] as const))('%s', (_label, plan) => {
        runWhole(plan);
        runBytewise(plan);
      });
    });
  }

  // Proof that the comparison has teeth: charts with one rule broken must fail on some path.
  const mutants = {
    'forgets the key length limit': framingMachine.provide({ guards: { isKeyTooLong: () => false } }),
    'treats an empty key as a key': framingMachine.provide({ guards: { isEmpty: () => false } }),
    'does not count delivered boxes': framingMachine.provide({ actions: { deliverBox: assign({ pairs: 0 }) } }),
  };
  for (const [name, mutant] of Object.entries(mutants)) {
    it(`detects a chart that ${name}`, () => {
      const caught = plansOf(mutant)
        .flatMap(({ plans }) => plans)
        .some((plan) => {
          try {
            runWhole(plan);
            runBytewise(plan);
            return false;
          } catch {
            return true;
          }
        });
      expect(caught).toBe(true);
    });
  }
});
