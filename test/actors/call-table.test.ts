import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CallTable } from '../../actors/amp/call-table.js';

describe('CallTable', () => {
  it('behaves as a Map from tag to call, whatever order answers come in', () => {
    // Tags count up, as the dispatcher makes them; answers take any outstanding tag, or one never sent.
    const step = fc.oneof(fc.constant({ kind: 'call' as const }), fc.record({ kind: fc.constant('answer' as const), pick: fc.nat(), stray: fc.boolean() }));
    fc.assert(
      fc.property(fc.array(step, { minLength: 1000, maxLength: 6000 }), (steps) => {
        const table = new CallTable<{ tag: number }>();
        const model = new Map<number, { tag: number }>();
        let next = 0;
        for (const s of steps) {
          if (s.kind === 'call') {
            const call = { tag: ++next };
            table.add(call);
            model.set(call.tag, call);
          } else {
            const keys = [...model.keys()];
            const known = keys.length === 0 ? next + 1 : keys[s.pick % keys.length]!;
            // A stray tag shares its ring slot with a call that is outstanding.
            const tag = s.stray ? known + 1024 * (1 + (s.pick % 4)) : known;
            expect(table.take(tag)).toBe(model.get(tag));
            model.delete(tag);
          }
          expect(table.size).toBe(model.size);
        }
        expect(table.takeAll()).toEqual([...model.values()]);
        expect(table.size).toBe(0);
      }),
      { numRuns: 30 },
    );
  });

  it('keeps a slow call while thousands of others come and go through its slot', () => {
    const table = new CallTable<{ tag: number }>();
    const slow = { tag: 1 };
    table.add(slow);
    for (let tag = 2; tag < 100_000; tag++) {
      table.add({ tag });
      expect(table.take(tag)?.tag).toBe(tag);
    }
    expect(table.size).toBe(1);
    expect(table.take(1)).toBe(slow);
    expect(table.take(1)).toBeUndefined();
  });
});
