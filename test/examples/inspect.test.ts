/**
 * examples/inspect streams every machine of a live master and its workers to Stately's inspector
 * bridge. Here a WebSocket client plays the viewer's browser and checks what arrives.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const example = fileURLToPath(new URL('../../dist/examples/inspect/main.js', import.meta.url));

interface ExampleRun {
  readonly output: string;
  readonly code: number | null;
  readonly snapshots: number;
  readonly machines: ReadonlySet<string>;
}

/** One run of the example on `port`, with a WebSocket client playing the viewer's browser. */
async function runExample(port: number): Promise<ExampleRun> {
  const child = spawn(process.execPath, [example, '--port', String(port), '--no-open'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const machines = new Set<string>();
  let snapshots = 0;
  const viewer = new WebSocket(`ws://127.0.0.1:${port}`);
  viewer.on('error', () => undefined);
  viewer.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { type?: string; definition?: string };
    if (message.type === '@xstate.snapshot') snapshots++;
    // Actor registrations carry the machine definition, as JSON text.
    if (typeof message.definition === 'string') machines.add((JSON.parse(message.definition) as { id: string }).id);
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  viewer.close();
  return { output, code, snapshots, machines };
}

describe('examples/inspect', () => {
  it('streams the machines of the master and the workers to the inspector bridge', async () => {
    // The example takes a fixed port. One below Linux's ephemeral range (32768 and up) is not
    // handed to the other tests' connections; another test's listener may still hold it, so a
    // run that finds the port taken is tried again on another.
    let run: ExampleRun;
    let attempts = 0;
    do run = await runExample(10_000 + Math.floor(Math.random() * 20_000));
    while (run.output.includes('EADDRINUSE') && ++attempts < 5);
    expect(run.output).toContain('all 14 steps succeeded');
    expect(run.code).toBe(0);
    expect(run.snapshots).toBeGreaterThan(50);
    for (const id of ['workerSession', 'masterConnection', 'remoteCommand', 'connection']) expect(run.machines).toContain(id);
  }, 120_000);
});
