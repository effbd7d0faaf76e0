/**
 * examples/inspect streams every machine of a live master and its workers to Stately's inspector
 * bridge. Here a WebSocket client plays the viewer's browser and checks what arrives.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const example = fileURLToPath(new URL('../../dist/examples/inspect/main.js', import.meta.url));

describe('examples/inspect', () => {
  it('streams the machines of the master and the workers to the inspector bridge', async () => {
    const port = 38000 + Math.floor(Math.random() * 2000);
    const child = spawn(process.execPath, [example, '--port', String(port), '--no-open'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const machines = new Set<string>();
    let snapshots = 0;
    const viewer = new WebSocket(`ws://127.0.0.1:${port}`);
    viewer.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type?: string; definition?: string };
      if (message.type === '@xstate.snapshot') snapshots++;
      // Actor registrations carry the machine definition, as JSON text.
      if (typeof message.definition === 'string') machines.add((JSON.parse(message.definition) as { id: string }).id);
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    viewer.close();
    expect(output).toContain('all 14 steps succeeded');
    expect(code).toBe(0);
    expect(snapshots).toBeGreaterThan(50);
    for (const id of ['workerSession', 'masterConnection', 'remoteCommand', 'connection']) expect(machines).toContain(id);
  }, 60_000);
});
