/** The farm event bus ties a worker to its connection machine: live state, named snapshots. */
import type { InspectionEvent } from 'xstate';
import { describe, expect, it } from 'vitest';
import { FarmEventBus, type FarmEvent } from '../../actors/master/admin/farm-events.js';

const at = new Date(0);

/** What xstate's inspector reports for a snapshot of the actor `sessionId` (only what the bus reads). */
function snapshotOf(sessionId: string, machine: string, value: string): InspectionEvent {
  return { type: '@xstate.snapshot', actorRef: { sessionId }, snapshot: { value, machine: { id: machine } } } as unknown as InspectionEvent;
}

describe('FarmEventBus', () => {
  it('follows a worker\'s connection machine: its summary\'s state, its snapshots named after it', () => {
    const bus = new FarmEventBus();
    const seen: FarmEvent[] = [];
    bus.events$.subscribe((event) => seen.push(event));
    const inspect = bus.inspector();
    bus.publish({ type: 'worker-attached', at, worker: { name: 'w1', protocol: 'amp', state: 'attached', builders: ['b'], machine: 'x:7', info: undefined, attachedAt: at } });
    inspect(snapshotOf('x:7', 'masterConnection', 'detaching'));
    inspect(snapshotOf('x:8', 'remoteCommand', 'running'));
    expect(bus.workers()).toMatchObject([{ name: 'w1', state: 'detaching', builders: ['b'] }]);
    expect(seen.filter((event) => event.type === 'machine-snapshot')).toMatchObject([
      { actorId: 'x:7', machine: 'masterConnection', state: 'detaching', worker: 'w1' },
      { actorId: 'x:8', machine: 'remoteCommand', state: 'running' },
    ]);
    expect(seen.at(-1)).not.toHaveProperty('worker');
    // The listener's detach comes before the machine's last snapshot, which still names the worker.
    bus.publish({ type: 'worker-detached', at, name: 'w1', reason: 'gone' });
    inspect(snapshotOf('x:7', 'masterConnection', 'detached'));
    expect(seen.at(-1)).toMatchObject({ actorId: 'x:7', state: 'detached', worker: 'w1' });
    expect(bus.workers()).toEqual([]);
  });
});
