/**
 * The dispatch order (actors/trial/schedule.ts): a permutation of trial's order, longest expected
 * first, unrecorded tests at the median, trial's order kept among equals and without any record.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scheduleTests } from '../../actors/trial/schedule.js';

const ids = fc.array(fc.stringMatching(/^[a-e]\.[a-e]{1,3}$/), { maxLength: 40 });
/** Ids with recorded durations for some of them (and for ids not in the run). */
const withRecords = (lists: fc.Arbitrary<string[]>) => lists.chain((list) =>
  fc.tuple(
    fc.constant(list),
    fc.dictionary(fc.constantFrom('x.y', ...list, 'zz.z'), fc.integer({ min: 0, max: 5000 }), { maxKeys: 30 }).map((r) => new Map(Object.entries(r))),
  ),
);
const idsAndRecords = withRecords(ids);
const uniqueIdsAndRecords = withRecords(fc.uniqueArray(fc.stringMatching(/^[a-e]\.[a-e]{1,3}$/), { maxLength: 40 }));

describe('scheduleTests', () => {
  it('returns a permutation of the ids (duplicates included)', () => {
    fc.assert(
      fc.property(idsAndRecords, ([list, recorded]) => {
        const { order } = scheduleTests(list, recorded);
        expect([...order].sort()).toEqual([...list].sort());
      }),
    );
  });

  it('orders by expected duration, longest first, unrecorded ones at the median of the recorded', () => {
    fc.assert(
      fc.property(idsAndRecords, ([list, recorded]) => {
        const { order, expectedMs } = scheduleTests(list, recorded);
        if (expectedMs === undefined) return;
        const expected = order.map((id) => expectedMs.get(id)!);
        for (let i = 1; i < expected.length; i++) expect(expected[i - 1]).toBeGreaterThanOrEqual(expected[i]!);
        for (const id of list) if (recorded.has(id)) expect(expectedMs.get(id)).toBe(recorded.get(id));
      }),
    );
  });

  it('keeps trial order among equal expectations (a stable sort)', () => {
    fc.assert(
      fc.property(uniqueIdsAndRecords, ([list, recorded]) => {
        const { order, expectedMs } = scheduleTests(list, recorded);
        if (expectedMs === undefined) return;
        const positions = new Map(list.map((id, i) => [id, i] as const));
        for (let i = 1; i < order.length; i++) {
          if (expectedMs.get(order[i - 1]!) === expectedMs.get(order[i]!)) {
            expect(positions.get(order[i - 1]!)! <= positions.get(order[i]!)!).toBe(true);
          }
        }
      }),
    );
  });

  it('is the identity when nothing about these ids was recorded', () => {
    fc.assert(
      fc.property(ids, (list) => {
        const unrelated = new Map([['not.in.the.run', 1234]]);
        expect(scheduleTests(list, unrelated)).toEqual({ order: list, expectedMs: undefined });
        expect(scheduleTests(list, new Map()).order).toEqual(list);
      }),
    );
  });

  it('puts a recorded slow test first and new tests among the ordinary ones', () => {
    const recorded = new Map([
      ['m.T.test_a', 10],
      ['m.T.test_b', 30],
      ['m.T.test_slow', 2000],
      ['m.T.test_c', 20],
    ]);
    const { order, expectedMs } = scheduleTests(['m.T.test_a', 'm.T.test_b', 'm.T.test_c', 'm.T.test_new', 'm.T.test_slow'], recorded);
    expect(order).toEqual(['m.T.test_slow', 'm.T.test_b', 'm.T.test_new', 'm.T.test_c', 'm.T.test_a']);
    expect(expectedMs!.get('m.T.test_new')).toBe(25);
  });
});
