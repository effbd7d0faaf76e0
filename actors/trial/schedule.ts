/**
 * The order a trial run hands its tests out in, from the durations earlier runs recorded
 * (duration-cache.ts). Pure: ids and durations in, order out.
 *
 * The manager dispatches from one shared queue, greedily: whichever worker is free takes the next
 * test. With the queue sorted longest first that is the classic LPT (longest processing time first)
 * schedule, whose makespan is within 4/3 of the optimum; trial's own order instead tends to put a
 * module's slow tests together at the end, where the last one runs alone while the other workers
 * sit idle.
 */

export interface TrialSchedule {
  /** Every id of the input exactly once, in dispatch order. */
  readonly order: readonly string[];
  /**
   * Expected milliseconds per id (recorded, or the stand-in for an unrecorded test); undefined
   * when nothing was recorded for any of the ids, in which case `order` is the input order.
   */
  readonly expectedMs: ReadonlyMap<string, number> | undefined;
}

/**
 * Longest expected duration first. A test with no recorded duration counts as the median of the
 * recorded ones (a new test is most likely an ordinary one), so it neither jumps ahead of the known
 * slow tests nor lands behind every fast one. The sort is stable: equal expectations, unrecorded
 * tests among them, keep trial's relative order. With no recorded duration for any id the order is
 * trial's, untouched. A duplicated id stays duplicated (trial runs it twice, so do we).
 */
export function scheduleTests(ids: readonly string[], recordedMs: ReadonlyMap<string, number>): TrialSchedule {
  const known = ids.map((id) => recordedMs.get(id)).filter((ms): ms is number => ms !== undefined && Number.isFinite(ms) && ms >= 0);
  if (known.length === 0) return { order: [...ids], expectedMs: undefined };
  const standIn = median(known);
  const expectedMs = new Map<string, number>();
  for (const id of ids) {
    const ms = recordedMs.get(id);
    expectedMs.set(id, ms !== undefined && Number.isFinite(ms) && ms >= 0 ? ms : standIn);
  }
  // Array.prototype.sort is stable (ES2019), which keeps trial's order among equals.
  const order = [...ids].sort((a, b) => expectedMs.get(b)! - expectedMs.get(a)!);
  return { order, expectedMs };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
