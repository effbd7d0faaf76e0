import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  GetWorkerInfo,
  InterruptCommand,
  Keepalive,
  Print,
  SetBuilderList,
  SetWorkerSettings,
  Shutdown,
} from '../../codec/protocols/worker-commands.js';
import { CommandRejectedError } from '../../codec/protocols/worker-errors.js';
import type { WorkerSession } from '../../actors/worker/session.js';
import { FakeMaster } from './fake-master.js';
import { FakeClock, memoryLogger, nextNotice, removeDir, startWorker, tempDir, waitFor } from './helpers.js';

let master: FakeMaster;
let basedir: string;
let sessions: WorkerSession[];

beforeEach(async () => {
  master = await FakeMaster.listen({ transferWindow: 4 });
  basedir = tempDir();
  sessions = [];
});

afterEach(async () => {
  await Promise.all(sessions.map((session) => session.stop()));
  await master.close();
  removeDir(basedir);
});

function worker(options: Parameters<typeof startWorker>[2] = {}): WorkerSession {
  const session = startWorker(master, basedir, options);
  sessions.push(session);
  return session;
}

const shell = (command: string, extra: Record<string, unknown> = {}) => ({ command, workdir: basedir, logEnviron: false, ...extra });

describe('login', () => {
  it('logs in with name, password and the offered window, and attaches with the negotiated one', async () => {
    const session = worker({ transferWindow: 8 });
    const attached = nextNotice(session.notices$, 'attached');
    const side = await master.attached();
    expect(side.logins).toEqual([{ username: 'w1', password: 'secret', transferWindow: 8, accepted: true }]);
    expect((await attached).transferWindow).toBe(4);
    expect(session.state).toBe('attached');
    expect(session.transferWindow).toBe(4);
  });

  it('shows its machine (and its connections) to the inspect option', async () => {
    const seen: string[] = [];
    worker({
      inspect: (event) => {
        if (event.type !== '@xstate.snapshot') return;
        const snapshot = event.snapshot as { value?: unknown; machine?: { id?: string } };
        seen.push(`${snapshot.machine?.id}:${String(snapshot.value)}`);
      },
    });
    await master.attached();
    await waitFor(() => seen.includes('workerSession:attached'), 2000, 'the attached snapshot');
    expect(seen).toContain('workerSession:authenticating');
    expect(seen).toContain('connection:open');
  });

  it('logs a refused password clearly and keeps retrying with backoff', async () => {
    const { logger, lines } = memoryLogger();
    const clock = new FakeClock();
    const session = worker({ password: 'wrong', logger, clock, random: () => 0 });
    const refused = await nextNotice(session.notices$, 'loginRefused');
    expect(refused.message).toContain("invalid login for worker 'w1'");
    await waitFor(() => clock.pending.length === 1, 2000, 'a retry');
    const error = lines.find((line) => line.level === 50);
    expect(error?.msg).toMatch(/master refused the login of worker 'w1': invalid login for worker 'w1'; check --name and --password-file/);
    expect(lines.some((line) => /^Scheduling retry 1 to connect tcp:127\.0\.0\.1:\d+ in 1\.500 seconds\.$/.test(line.msg))).toBe(true);
    expect(session.state).toBe('disconnected');
    // The TCP connect reset the counter, so every refusal waits 1.5 s (+ jitter), as Buildbot does.
    expect(clock.fireNext()).toBe(1500);
    await nextNotice(session.notices$, 'loginRefused');
    await waitFor(() => clock.pending.length === 1, 2000, 'a second retry');
    expect(clock.pending[0]?.delayMs).toBe(1500);
    expect((await master.side(1)).logins).toEqual([{ username: 'w1', password: 'wrong', transferWindow: 16, accepted: false }]);
  });

  it('gives up after --max-retries refused logins', async () => {
    const clock = new FakeClock();
    const session = worker({ password: 'wrong', clock, maxRetries: 2 });
    await waitFor(() => clock.pending.length === 1, 2000, 'a retry');
    clock.fireNext();
    expect(await session.stopped).toBe('gave-up');
    expect(master.sides.length).toBe(2);
    expect(session.state).toBe('stopped');
  });
});

describe('master → worker commands', () => {
  it('answers Print and Keepalive, and logs the message', async () => {
    const { logger, lines } = memoryLogger();
    worker({ logger });
    const side = await master.attached();
    await expect(side.call(Print, { message: 'attached' })).resolves.toEqual({});
    await expect(side.call(Keepalive, {})).resolves.toEqual({});
    expect(lines.some((line) => line.msg === 'message from master: attached')).toBe(true);
  });

  it('reports worker info from basedir/info, the environment and the command versions', async () => {
    mkdirSync(join(basedir, 'info'));
    writeFileSync(join(basedir, 'info', 'admin'), 'Test Admin <a@b>\n');
    writeFileSync(join(basedir, 'info', 'host'), 'a test box\n');
    worker({ environ: { PATH: '/usr/bin', FOO: 'bar' }, version: '9.9.9', numcpus: 3 });
    const side = await master.attached();
    const { info } = await side.call(GetWorkerInfo, {});
    expect(info).toMatchObject({
      admin: 'Test Admin <a@b>\n',
      host: 'a test box\n',
      environ: { PATH: '/usr/bin', FOO: 'bar' },
      system: 'posix',
      basedir,
      numcpus: 3,
      version: '9.9.9',
      delete_leftover_dirs: false,
    });
    expect(info.worker_commands).toMatchObject({ shell: '3.3', upload_file: '3.3', uploadFile: '3.3', download_file: '3.3' });
  });

  it('creates one directory per builder and returns the names', async () => {
    const elsewhere = tempDir();
    try {
      worker();
      const side = await master.attached();
      const { builders } = await side.call(SetBuilderList, {
        builders: [
          ['b1', 'b1-dir'],
          ['b2', 'nested/b2'],
          ['b3', join(elsewhere, 'abs')],
        ],
      });
      expect(builders).toEqual(['b1', 'b2', 'b3']);
      expect(statSync(join(basedir, 'b1-dir')).isDirectory()).toBe(true);
      expect(statSync(join(basedir, 'nested', 'b2')).isDirectory()).toBe(true);
      expect(statSync(join(elsewhere, 'abs')).isDirectory()).toBe(true);
    } finally {
      removeDir(elsewhere);
    }
  });

  it('applies SetWorkerSettings to later commands (a short buffer_timeout sends output early)', async () => {
    worker();
    const side = await master.attached();
    const script = 'echo early; sleep 0.6; echo late';
    await side.run('1', 'shell', shell(script));
    // Default 5 s timeout: both lines leave together at the end.
    expect(side.updateBoxes('1').filter((box) => box.some(([key]) => key === 'stdout'))).toHaveLength(1);
    await side.call(SetWorkerSettings, { bufferSize: 64 * 1024, bufferTimeout: 0.1, newlineRe: '(\\r\\n|\\r(?=.)|\\033\\[u|\\033\\[[0-9]+;[0-9]+[Hf]|\\033\\[2J|\\x08+)', maxLineLength: 4096 });
    await side.run('2', 'shell', shell(script));
    const stdoutBoxes = side.updateBoxes('2').filter((box) => box.some(([key]) => key === 'stdout'));
    expect(stdoutBoxes.length).toBeGreaterThanOrEqual(2);
    expect(side.text('2', 'stdout')).toBe('early\nlate\n');
  });

  it('rejects unknown commands and missing arguments with Buildbot texts', async () => {
    worker();
    const side = await master.attached();
    await expect(side.startCommand('1', 'nope', {})).rejects.toThrow(new CommandRejectedError("unrecognized WorkerCommand 'nope'"));
    const missing = side.startCommand('2', 'shell', { workdir: basedir });
    await expect(missing).rejects.toBeInstanceOf(CommandRejectedError);
    await expect(missing).rejects.toThrow('WorkerShellCommand is missing args: command');
    expect(side.ops).toEqual([]);
  });

  it('rejects a second command with a running command id', async () => {
    worker();
    const side = await master.attached();
    await side.startCommand('1', 'shell', shell('sleep 5'));
    await expect(side.startCommand('1', 'shell', shell('true'))).rejects.toThrow("command id '1' is already running");
    await side.call(InterruptCommand, { builderName: 'builder', commandId: '1', why: 'done' });
    await side.completion('1');
  });

  it('answers an interrupt for an unknown id with success', async () => {
    worker();
    const side = await master.attached();
    await expect(side.call(InterruptCommand, { builderName: 'builder', commandId: '77', why: 'x' })).resolves.toEqual({});
  });
});

describe('shell commands', () => {
  it('batches output into few updates, each within an AMP value, with Complete last', async () => {
    worker();
    const side = await master.attached();
    const failure = await side.run('1', 'shell', shell('i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done'));
    expect(failure).toBeUndefined();
    const expected = Array.from({ length: 20000 }, (_, i) => `line ${i}\n`).join('');
    expect(side.text('1', 'stdout')).toBe(expected);
    const boxes = side.updateBoxes('1');
    // ~210 KB of output: a handful of 48 KiB batches, not one box per line or per read.
    expect(boxes.length).toBeLessThan(20);
    for (const box of boxes) {
      const stdout = box.filter(([key]) => key === 'stdout').map(([, value]) => String(value));
      const size = stdout.reduce((sum, text) => sum + Buffer.byteLength(text) + 16 * (text.split('\n').length - 1), 0);
      expect(size).toBeLessThanOrEqual(48 * 1024);
    }
    expect(side.value('1', 'rc')).toBe(0);
    expect(side.opsFor('1').at(-1)).toEqual({ op: 'complete', commandId: '1', failure: undefined });
    expect(side.opsFor('1').filter((op) => op.op === 'complete')).toHaveLength(1);
  });

  it('sends no update before the StartCommand answer, even when the headers fill a batch at once', async () => {
    worker({ environ: { PATH: process.env.PATH, BIG: 'x'.repeat(100_000) } });
    const side = await master.attached();
    expect(await side.run('1', 'shell', shell('true', { logEnviron: true }))).toBeUndefined();
    expect(side.text('1', 'header')).toContain('BIG=xxxx');
    expect(side.updateBoxes('1').length).toBeGreaterThan(1);
    expect(side.updatesWhileCalling.has('1')).toBe(false);
  });

  it('sends a held partial line after rc (output after rc), then Complete', async () => {
    worker();
    const side = await master.attached();
    await side.run('1', 'shell', shell("printf 'whole\\npartial'"));
    const entries = side.updates('1');
    const rcIndex = entries.findIndex(([key]) => key === 'rc');
    const partialIndex = entries.findIndex(([key, value]) => key === 'stdout' && value === 'partial\n');
    expect(rcIndex).toBeGreaterThanOrEqual(0);
    expect(partialIndex).toBeGreaterThan(rcIndex);
    expect(side.text('1', 'stdout')).toBe('whole\npartial\n');
    expect(side.opsFor('1').at(-1)?.op).toBe('complete');
  });

  it('reports a failure inside a started command in Complete (bad env value)', async () => {
    worker();
    const side = await master.attached();
    const failure = await side.run('1', 'shell', shell('true', { env: { X: 5 } }));
    expect(failure).toMatch(/'env' values must be strings or lists; key 'X' is incorrect/);
  });

  it('interrupts a running command: flushes, kills, rc -1, Complete', async () => {
    worker();
    const side = await master.attached();
    await side.call(SetWorkerSettings, { bufferSize: 48 * 1024, bufferTimeout: 0.05, newlineRe: '\\r\\n', maxLineLength: 4096 });
    const completion = side.completion('1');
    await side.startCommand('1', 'shell', shell('echo started; sleep 30'));
    await waitFor(() => side.text('1', 'stdout') === 'started\n', 3000, 'first output');
    const started = Date.now();
    await side.call(InterruptCommand, { builderName: 'builder', commandId: '1', why: 'user asked' });
    expect(await completion).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(side.text('1', 'stdout')).toBe('started\n');
    expect(side.text('1', 'header')).toContain('command interrupted, attempting to kill');
    expect(side.value('1', 'rc')).toBe(-1);
    // An interrupted command's own status (elapsed) is dropped, as Buildbot does.
    expect(side.value('1', 'elapsed')).toBeUndefined();
    expect(side.opsFor('1').at(-1)?.op).toBe('complete');
  });
});

describe('updates and the AMP value limit', () => {
  it('completes with a failure when one update value cannot fit in an AMP value', async () => {
    const many = join(basedir, 'many');
    mkdirSync(many);
    for (let i = 0; i < 4000; i++) writeFileSync(join(many, `file-with-a-long-name-${i}`), '');
    worker();
    const side = await master.attached();
    const failure = await side.run('1', 'listdir', { path: many });
    expect(failure).toMatch(/update 'files' is \d+ bytes encoded, over the 65535-byte AMP value limit/);
    // The rest of the command's updates still arrive.
    expect(side.value('1', 'rc')).toBe(0);
    expect(side.value('1', 'files')).toBeUndefined();
  });

  it('sends a listdir result that fits', async () => {
    worker();
    const side = await master.attached();
    mkdirSync(join(basedir, 'few'));
    writeFileSync(join(basedir, 'few', 'a'), '');
    expect(await side.run('1', 'listdir', { path: join(basedir, 'few') })).toBeUndefined();
    expect(side.value('1', 'files')).toEqual(['a']);
  });
});

describe('stop', () => {
  it('stops a session that was never started, and start() then does nothing', async () => {
    const { WorkerSession } = await import('../../actors/worker/session.js');
    const session = new WorkerSession({ master: master.endpoint, name: 'w1', password: 'secret', basedir });
    await session.stop();
    expect(await session.stopped).toBe('stopped');
    session.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(master.sides).toHaveLength(0);
  });
});

describe('shutdown', () => {
  it('answers Shutdown, then stops about 0.2 s later and closes the connection', async () => {
    const session = worker();
    const side = await master.attached();
    const asked = Date.now();
    await expect(side.call(Shutdown, {})).resolves.toEqual({});
    expect(session.state).toBe('attached');
    expect(await session.stopped).toBe('shutdown');
    const took = Date.now() - asked;
    expect(took).toBeGreaterThanOrEqual(150);
    expect(took).toBeLessThan(3000);
    await side.connection.closed;
    expect(session.state).toBe('stopped');
  });
});
