/**
 * The farm's events as the browser receives them: JSON with ISO dates, and a refusal reduced to
 * what a person reads. The front end's mirror of these shapes is dashboard/src/wire.ts.
 */
import type { FarmEvent, WorkerSummary } from '../admin/farm-events.js';

export type WireEvent = Record<string, unknown> & { readonly type: string };

function workerToWire(worker: WorkerSummary): Record<string, unknown> {
  return { ...worker, attachedAt: worker.attachedAt.toISOString() };
}

export function eventToWire(event: FarmEvent): WireEvent {
  switch (event.type) {
    case 'worker-attached':
      return { ...event, at: event.at.toISOString(), worker: workerToWire(event.worker) };
    case 'refusal': {
      const { reason, address, workerName } = event.refusal;
      return { type: 'refusal', at: event.at.toISOString(), reason: String(reason), address, workerName };
    }
    default:
      return { ...event, at: event.at.toISOString() };
  }
}

/** The first message of every feed: who is attached now, so the page needs no second request. */
export function workersToWire(workers: readonly WorkerSummary[]): WireEvent {
  return { type: 'workers', at: new Date().toISOString(), workers: workers.map(workerToWire) };
}
