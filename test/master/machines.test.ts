import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActor, type InspectionEvent } from 'xstate';
import { describe, expect, it } from 'vitest';
import { FileWriter } from '../../actors/master/file-writer.js';
import { InMemoryConnection } from '../../actors/master/in-memory-connection.js';
import { RemoteCommand } from '../../actors/master/remote-command.js';
import { fileTransferMachine } from '../../machines/file-transfer.js';
import { masterConnectionMachine } from '../../machines/master-connection.js';
import { remoteCommandMachine } from '../../machines/remote-command.js';
import { inMemoryFactory } from '../contract/harnesses.js';
import { ScriptedWorker } from '../contract/scripted-worker.js';

function states(machine: Parameters<typeof createActor>[0], events: Array<{ type: string; [key: string]: unknown }>): string[] {
  const actor = createActor(machine).start();
  const seen = [String(actor.getSnapshot().value)];
  for (const event of events) {
    // A final machine takes no more events (xstate would warn): its state simply stays.
    if (actor.getSnapshot().status === 'active') actor.send(event as never);
    seen.push(String(actor.getSnapshot().value));
  }
  return seen;
}

function machineIds(events: InspectionEvent[]): Set<string> {
  const ids = new Set<string>();
  for (const event of events) {
    if (event.type !== '@xstate.snapshot') continue;
    const id = (event.snapshot as { machine?: { id?: string } }).machine?.id;
    if (id !== undefined) ids.add(id);
  }
  return ids;
}

describe('machines', () => {
  it('remoteCommand: ignores an interrupt before start; interrupting waits for complete; disconnect is final', () => {
    expect(states(remoteCommandMachine, [{ type: 'interrupt', why: 'x' }, { type: 'start' }, { type: 'started' }, { type: 'complete', failed: false }])).toEqual([
      'idle',
      'idle',
      'starting',
      'running',
      'completed',
    ]);
    expect(
      states(remoteCommandMachine, [
        { type: 'start' },
        { type: 'interrupt', why: 'x' },
        { type: 'started' },
        { type: 'complete', failed: false },
      ]),
    ).toEqual(['idle', 'starting', 'interrupting', 'interrupting', 'completed']);
    expect(states(remoteCommandMachine, [{ type: 'start' }, { type: 'startFailed' }])).toEqual(['idle', 'starting', 'failed']);
    expect(states(remoteCommandMachine, [{ type: 'start' }, { type: 'started' }, { type: 'complete', failed: true }])).toEqual([
      'idle',
      'starting',
      'running',
      'failed',
    ]);
    expect(
      states(remoteCommandMachine, [{ type: 'start' }, { type: 'started' }, { type: 'disconnected' }, { type: 'complete', failed: false }]),
    ).toEqual(['idle', 'starting', 'running', 'disconnected', 'disconnected']);
  });

  it('masterConnection: attaching → attached → detaching → detached, and a failed handshake never attaches', () => {
    expect(
      states(masterConnectionMachine, [
        { type: 'handshakeDone' },
        { type: 'keepaliveMissed', reason: 'silent' },
        { type: 'handshakeDone' },
        { type: 'transportClosed', reason: 'gone' },
      ]),
    ).toEqual(['attaching', 'attached', 'detaching', 'detaching', 'detached']);
    expect(
      states(masterConnectionMachine, [
        { type: 'keepaliveMissed', reason: 'not yet' },
        { type: 'handshakeFailed', reason: 'bad info' },
        { type: 'transportClosed', reason: 'gone' },
      ]),
    ).toEqual(['attaching', 'attaching', 'detaching', 'detached']);
    expect(states(masterConnectionMachine, [{ type: 'transportClosed', reason: 'peer left' }])).toEqual(['attaching', 'detached']);
  });

  it('fileTransfer: blocks only while transferring; closed allows utime and purge', () => {
    const actor = createActor(fileTransferMachine).start();
    actor.send({ type: 'block', bytes: 10 });
    actor.send({ type: 'block', bytes: 5 });
    expect(actor.getSnapshot().context).toMatchObject({ bytes: 15, blocks: 2 });
    actor.send({ type: 'close' });
    expect(actor.getSnapshot().can({ type: 'block', bytes: 1 })).toBe(false);
    actor.send({ type: 'closed' });
    expect(actor.getSnapshot().can({ type: 'utime' })).toBe(true);
    expect(actor.getSnapshot().can({ type: 'block', bytes: 1 })).toBe(false);
    expect(actor.getSnapshot().can({ type: 'unpack' })).toBe(false);
    actor.send({ type: 'purge' });
    expect(actor.getSnapshot().value).toBe('purged');
  });

  it('every actor takes an inspector that sees its machine', async () => {
    const seen: InspectionEvent[] = [];
    const inspect = (event: InspectionEvent) => seen.push(event);
    const directory = mkdtempSync(join(tmpdir(), 'ampstate-inspect-'));
    try {
      const writer = new FileWriter({ destination: join(directory, 'f'), inspect });
      await writer.write(Buffer.from('x'));
      await writer.close();
      const script = new ScriptedWorker();
      const pair = await inMemoryFactory(script, { builders: [['b', 'b']] });
      const command = new RemoteCommand('shell', { command: 'true' }, { inspect });
      void command.run(pair.connection, 'b');
      await command.interrupt('stop');
      await pair.cleanup();
      expect(await command.result).toMatchObject({ results: 5 });
      const connection = new InMemoryConnection(new ScriptedWorker(), { name: 'x', inspect, keepaliveIntervalMs: 0 });
      await connection.attach();
      connection.loseConnection();
      await connection.detached;
      expect(machineIds(seen)).toEqual(new Set(['fileTransfer', 'remoteCommand', 'masterConnection']));
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
