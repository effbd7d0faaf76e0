/** The Prometheus metrics follow the farm's events, in a registry of their own. */
import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FarmEventBus } from '../../actors/master/admin/farm-events.js';
import { FarmMetrics } from '../../actors/master/admin/metrics.js';
import { FAILURE, SUCCESS } from '../../actors/master/results.js';

const at = new Date(0);

describe('FarmMetrics', () => {
  it('counts workers, commands by result, bytes by direction, latencies and refusals', async () => {
    const bus = new FarmEventBus();
    const metrics = new FarmMetrics(bus);
    bus.publish({ type: 'worker-attached', at, worker: { name: 'w1', protocol: 'amp', state: 'attached', builders: [], machine: 'x:1', info: undefined, attachedAt: at } });
    bus.publish({ type: 'worker-attached', at, worker: { name: 'w2', protocol: 'msgpack', state: 'attached', builders: [], machine: 'x:2', info: undefined, attachedAt: at } });
    bus.publish({ type: 'worker-detached', at, name: 'w2', reason: 'gone' });
    for (const [commandId, results] of [['1', SUCCESS], ['2', SUCCESS], ['3', FAILURE]] as const) {
      bus.publish({ type: 'command-finished', at, commandId, worker: 'w1', command: 'shell', rc: 0, results, durationMs: 250 });
    }
    bus.publish({ type: 'transfer-progress', at, commandId: 't', worker: 'w1', direction: 'to-worker', bytes: 100, done: false });
    bus.publish({ type: 'transfer-progress', at, commandId: 't', worker: 'w1', direction: 'to-worker', bytes: 300, done: false });
    bus.publish({ type: 'transfer-progress', at, commandId: 't', worker: 'w1', direction: 'to-worker', bytes: 300, done: true });
    bus.publish({ type: 'refusal', at, refusal: { reason: 'bad-credentials', address: '127.0.0.1:1', at } });

    const text = await metrics.render();
    expect(text).toMatch(/^ampstate_workers_connected 1$/m);
    expect(text).toMatch(/^ampstate_commands_total\{result="success"\} 2$/m);
    expect(text).toMatch(/^ampstate_commands_total\{result="failure"\} 1$/m);
    expect(text).toMatch(/^ampstate_transfer_bytes_total\{direction="to-worker"\} 300$/m);
    expect(text).toMatch(/^ampstate_command_duration_seconds_count\{command="shell"\} 3$/m);
    expect(text).toMatch(/^ampstate_refused_connections_total\{reason="bad-credentials"\} 1$/m);
    expect(await globalRegistry.metrics()).not.toContain('ampstate_');
    metrics.close();
  });
});
