/**
 * SnapshotMap against a plain Map: after any sequence of sets and deletes it holds the same pairs,
 * and every earlier snapshot still holds what it held (the registry's events keep theirs).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SnapshotMap } from '../../actors/master/snapshot-map.js';
import { WorkerRegistry, type RegistryEvent } from '../../actors/master/worker-registry.js';

type Step = { readonly set: boolean; readonly key: string; readonly value: number };

const steps = fc.array(
  fc.record({ set: fc.boolean(), key: fc.oneof(fc.constantFrom('a', 'b', 'w1'), fc.string({ maxLength: 6 })), value: fc.integer() }),
  { maxLength: 200 },
);

function sorted<V>(map: ReadonlyMap<string, V>): [string, V][] {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

describe('SnapshotMap', () => {
  it('behaves as a Map, and every snapshot keeps its contents', () => {
    fc.assert(
      fc.property(steps, (list: Step[]) => {
        let map = SnapshotMap.empty<number>();
        const model = new Map<string, number>();
        const history: [SnapshotMap<number>, [string, number][]][] = [];
        for (const { set, key, value } of list) {
          map = set ? map.with(key, value) : map.without(key);
          if (set) model.set(key, value);
          else model.delete(key);
          history.push([map, sorted(model)]);
          expect(map.size).toBe(model.size);
          expect(map.get(key)).toBe(model.get(key));
          expect(map.has(key)).toBe(model.has(key));
        }
        for (const [snapshot, contents] of history) {
          expect(sorted(snapshot)).toEqual(contents);
          expect([...snapshot.keys()].length).toBe(snapshot.size);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('WorkerRegistry snapshots', () => {
  it("each event's `current` is the set at that event, and stays so", () => {
    const registry = new WorkerRegistry<{ name: string; state: string }>();
    const events: RegistryEvent<{ name: string; state: string }>[] = [];
    registry.events$.subscribe((event) => events.push(event));
    const workers = ['w1', 'w2', 'w3'].map((name) => ({ name, state: 'attached' }));
    for (const worker of workers) {
      registry.loggedIn.set(worker.name, worker);
      registry.publishAttached(worker);
    }
    registry.withdraw(workers[1]!, new Error('gone'));
    expect(events.map((event) => [event.type, [...event.current.keys()].sort()])).toEqual([
      ['snapshot', []],
      ['attached', ['w1']],
      ['attached', ['w1', 'w2']],
      ['attached', ['w1', 'w2', 'w3']],
      ['detached', ['w1', 'w3']],
    ]);
    expect(registry.current.get('w3')).toBe(workers[2]);
    expect(registry.current.has('w2')).toBe(false);
  });
});
