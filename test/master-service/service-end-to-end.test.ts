/**
 * The master as a service, end to end with real processes through dist/bin: `master create`,
 * `master start --nodaemon`, a worker service attaching, the admin API and /metrics seeing it,
 * `ampstate exec`, files both ways through the master, and a SIGHUP reload that adds a worker
 * without dropping the connected one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { AMPSTATE_BIN, runCli } from '../support/run-cli.js';
import { temporaryDirectory } from '../support/temp-directory.js';

const root = temporaryDirectory('ampstate-master-service-');
const masterDir = join(root, 'master');
const children: ChildProcess[] = [];
let baseUrl = '';
let token = '';

function startInForeground(args: readonly string[]): ChildProcess {
  const child = spawn(process.execPath, [AMPSTATE_BIN, ...args, '--log-format', 'json'], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  children.push(child);
  return child;
}

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
}

async function attachedWorkers(): Promise<{ name: string; attachedAt: string }[]> {
  const response = await api('/api/workers');
  return ((await response.json()) as { workers: { name: string; attachedAt: string }[] }).workers;
}

async function startWorker(name: string, password: string): Promise<void> {
  const passwordFile = join(root, `${name}.password`);
  writeFileSync(passwordFile, `${password}\n`);
  const addresses = JSON.parse(readFileSync(join(masterDir, 'master.addresses.json'), 'utf8')) as { workersPort: number };
  const created = await runCli(AMPSTATE_BIN, ['worker', 'create', join(root, name), `tcp:127.0.0.1:${addresses.workersPort}`, name, '--password-file', passwordFile]);
  expect(created.code, created.stderr).toBe(0);
  startInForeground(['worker', 'start', '--nodaemon', join(root, name)]);
}

beforeAll(async () => {
  writeFileSync(join(root, 'w1.password'), 'first-secret\n');
  const created = await runCli(AMPSTATE_BIN, [
    'master', 'create', masterDir, '--listen', 'tcp:0', '--dashboard', 'tcp:0', '--worker', 'w1', '--worker-password-file', join(root, 'w1.password'),
  ]);
  expect(created.code, created.stderr).toBe(0);
  startInForeground(['master', 'start', '--nodaemon', masterDir]);
  const addresses = await eventually('master.addresses.json', () =>
    existsSync(join(masterDir, 'master.addresses.json')) ? (JSON.parse(readFileSync(join(masterDir, 'master.addresses.json'), 'utf8')) as { dashboardUrl: string }) : undefined,
  );
  baseUrl = addresses.dashboardUrl;
  token = readFileSync(join(masterDir, 'admin-token'), 'utf8').trim();
  await startWorker('w1', 'first-secret');
  await eventually('w1 to attach', async () => ((await attachedWorkers()).some((worker) => worker.name === 'w1') ? true : undefined));
}, 60_000);

afterAll(async () => {
  await Promise.all(
    children.map((child) => {
      if (child.exitCode !== null || child.signalCode !== null) return undefined;
      const gone = new Promise((settle) => child.once('exit', settle));
      child.kill('SIGTERM');
      return gone;
    }),
  );
});

describe('ampstate master as a service', () => {
  it('keeps its configuration and token private, with password hashes only', () => {
    for (const file of ['ampstate-master.json', 'admin-token']) expect(statSync(join(masterDir, file)).mode & 0o777, file).toBe(0o600);
    const config = readFileSync(join(masterDir, 'ampstate-master.json'), 'utf8');
    expect(config).not.toContain('first-secret');
    expect(config).toMatch(/"passwordHash": "scrypt\$/);
  });

  it('lists the attached worker on the admin API, and refuses a request without the token', async () => {
    expect((await attachedWorkers()).map((worker) => worker.name)).toEqual(['w1']);
    const anonymous = await fetch(`${baseUrl}/api/workers`);
    expect(anonymous.status).toBe(401);
  });

  it('counts the worker in /metrics', async () => {
    const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^ampstate_workers_connected 1$/m);
  });

  it('runs a command on every worker with `ampstate exec`', async () => {
    const run = await runCli(AMPSTATE_BIN, ['exec', '--master', masterDir, '--all', '--', 'echo', 'hi']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^w1 \| hi$/m);
    expect(run.stdout).toContain('w1: success (rc 0)');
  });

  it('exits non-zero when a worker command fails', async () => {
    const run = await runCli(AMPSTATE_BIN, ['exec', '--master', masterDir, '--workers', 'w1', '--', 'sh', '-c', 'exit 3']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('w1: failure (rc 3)');
  });

  it('round-trips a file to the worker and back through the master', async () => {
    const original = join(root, 'payload.bin');
    const bytes = Buffer.alloc(200_000, 0);
    for (let index = 0; index < bytes.length; index++) bytes[index] = (index * 7919) % 251;
    writeFileSync(original, bytes);
    const up = await runCli(AMPSTATE_BIN, ['upload', '--master', masterDir, '--worker', 'w1', original, 'incoming/payload.bin']);
    expect(up.code, up.stderr).toBe(0);
    const back = join(root, 'back.bin');
    const down = await runCli(AMPSTATE_BIN, ['download', '--master', masterDir, '--worker', 'w1', 'incoming/payload.bin', back]);
    expect(down.code, down.stderr).toBe(0);
    expect(readFileSync(back).equals(bytes)).toBe(true);
    const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^ampstate_transfer_bytes_total\{direction="to-worker"\} 200000$/m);
  });

  it('adds a worker on SIGHUP without dropping the connected one', async () => {
    const before = (await attachedWorkers()).find((worker) => worker.name === 'w1');
    writeFileSync(join(root, 'w2.password'), 'second-secret\n');
    const added = await runCli(AMPSTATE_BIN, ['master', 'add-worker', masterDir, 'w2', '--password-file', join(root, 'w2.password')]);
    expect(added.code, added.stderr).toBe(0);
    const reload = await runCli(AMPSTATE_BIN, ['master', 'reload', masterDir]);
    expect(reload.code, reload.stderr).toBe(0);
    await eventually('the reload', () => (readFileSync(join(masterDir, 'master.log'), 'utf8').includes('"added":["w2"]') ? true : undefined));
    await startWorker('w2', 'second-secret');
    const after = await eventually('w2 to attach', async () => {
      const workers = await attachedWorkers();
      return workers.some((worker) => worker.name === 'w2') ? workers : undefined;
    });
    // The same connection: a dropped and reattached w1 would have a new attach time.
    expect(after.find((worker) => worker.name === 'w1')?.attachedAt).toBe(before?.attachedAt);
  });

  it('drops a worker removed from the configuration on SIGHUP, and keeps the others', async () => {
    const before = (await attachedWorkers()).find((worker) => worker.name === 'w1');
    const removed = await runCli(AMPSTATE_BIN, ['master', 'remove-worker', masterDir, 'w2']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(readFileSync(join(masterDir, 'ampstate-master.json'), 'utf8')).not.toContain('"w2"');
    await runCli(AMPSTATE_BIN, ['master', 'reload', masterDir]);
    const after = await eventually('w2 to be dropped', async () => {
      const workers = await attachedWorkers();
      return workers.some((worker) => worker.name === 'w2') ? undefined : workers;
    });
    expect(after.map((worker) => worker.name)).toEqual(['w1']);
    expect(after[0]?.attachedAt).toBe(before?.attachedAt);
  });
});
