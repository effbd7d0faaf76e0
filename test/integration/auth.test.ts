/**
 * Login over loopback with a real `ampstate worker` process: a wrong password and an unknown name
 * are refused (the worker logs a clear error, retries, and with --max-retries exits 1); a worker
 * unregistered at run time is dropped and refused when it comes back; the right password attaches.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerProcess, removeDir, startMaster, tempRoot, waitAttached, type LogLine, type Master } from './harness.js';

const PINO_ERROR = 50;
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<{ master: Master; root: string; attachedNames: string[] }> {
  const root = tempRoot();
  const master = await startMaster({ workers: { alice: 'right-password' } });
  const attachedNames: string[] = [];
  const subscription = master.listener.workers$.subscribe((event) => {
    if (event.type === 'attached') attachedNames.push(event.name);
  });
  cleanups.push(async () => {
    subscription.unsubscribe();
    await master.listener.stop();
    removeDir(root);
  });
  return { master, root, attachedNames };
}

function spawn(master: Master, root: string, name: string, password: string, args: string[] = []): WorkerProcess {
  const worker = WorkerProcess.spawn({ master: master.endpoint, name, password, basedir: join(root, name), args });
  cleanups.push(async () => void (await worker.stop()));
  return worker;
}

const refusal = (line: LogLine) => line.level === PINO_ERROR && line.msg.includes('master refused the login');

async function exitCode(worker: WorkerProcess, timeoutMs = 15_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`worker still running after ${timeoutMs} ms; log:\n${worker.log}`)), timeoutMs);
  });
  try {
    return (await Promise.race([worker.exited, timedOut])).code;
  } finally {
    clearTimeout(timer);
  }
}

describe('login over loopback', () => {
  it('a wrong password is refused with a clear error; the worker retries, then gives up with exit 1', async () => {
    const { master, root, attachedNames } = await setup();
    const worker = spawn(master, root, 'alice', 'wrong-password', ['--max-retries', '2']);
    expect(await exitCode(worker)).toBe(1);
    const refusals = worker.lines.filter(refusal);
    // Refused twice: it did retry after the first refusal.
    expect(refusals, worker.log).toHaveLength(2);
    expect(refusals[0]?.msg).toContain("master refused the login of worker 'alice'");
    expect(refusals[0]?.msg).toContain('unknown name or wrong password');
    expect(refusals[0]?.msg).toContain('check --name and --password-file');
    expect(worker.lines.some((line) => line.msg.startsWith('Scheduling retry 1'))).toBe(true);
    expect(worker.lines.some((line) => line.msg.includes('giving up after 2 failed attempts'))).toBe(true);
    expect(attachedNames).toEqual([]);
    expect(master.listener.current.size).toBe(0);
  });

  it('an unregistered name is refused the same way (exit 1 with --max-retries 1)', async () => {
    const { master, root, attachedNames } = await setup();
    const worker = spawn(master, root, 'mallory', 'right-password', ['--max-retries', '1']);
    expect(await exitCode(worker)).toBe(1);
    const refusals = worker.lines.filter(refusal);
    expect(refusals, worker.log).toHaveLength(1);
    expect(refusals[0]?.msg).toContain("master refused the login of worker 'mallory'");
    expect(attachedNames).toEqual([]);
  });

  it('the right password attaches; unregistering drops the worker and refuses its comeback', async () => {
    const { master, root, attachedNames } = await setup();
    const worker = spawn(master, root, 'alice', 'right-password');
    const connection = await waitAttached(master.listener, 'alice');
    expect(attachedNames).toEqual(['alice']);
    expect(await connection.remoteGetWorkerInfo()).toMatchObject({ basedir: join(root, 'alice') });

    master.listener.unregister('alice');
    await connection.detached;
    await worker.waitForLog(refusal, 15_000);
    expect(attachedNames).toEqual(['alice']);
    expect(master.listener.current.has('alice')).toBe(false);
    // It keeps trying (no --max-retries): a worker waits for its master to be fixed.
    expect(worker.running).toBe(true);
  });
});
