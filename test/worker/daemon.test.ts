/**
 * The real `ampstate worker` daemon as a separate process (the compiled CLI, as `npm test` builds
 * it first) against the fake master over loopback TCP.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GetWorkerInfo, Shutdown } from '../../codec/protocols/worker-commands.js';
import { FakeMaster } from './fake-master.js';
import { isAlive, removeDir, tempDir, waitFor } from './helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const entry = join(root, 'bin', 'ampstate.js');

beforeAll(() => {
  // The daemon runs from dist/; a stale build would test old code.
  const pairs = [
    ['actors/worker/session.ts', 'dist/actors/worker/session.js'],
    ['actors/worker/daemon.ts', 'dist/actors/worker/daemon.js'],
    ['actors/worker/command-channel.ts', 'dist/actors/worker/command-channel.js'],
    ['bin/commands/worker.ts', 'dist/bin/commands/worker.js'],
  ];
  for (const [source, built] of pairs) {
    const builtPath = join(root, built as string);
    if (!existsSync(builtPath) || statSync(builtPath).mtimeMs < statSync(join(root, source as string)).mtimeMs) {
      throw new Error(`${built} is missing or older than ${source}: run "npx tsc -p ." (npm test does) first`);
    }
  }
});

let master: FakeMaster;
let basedir: string;
let children: ChildProcessWithoutNullStreams[];
const pids: number[] = [];

beforeEach(async () => {
  master = await FakeMaster.listen({ transferWindow: 4 });
  basedir = tempDir();
  children = [];
});

afterEach(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await master.close();
  removeDir(basedir);
});

interface Daemon {
  readonly child: ChildProcessWithoutNullStreams;
  /** The exit code; fails with the daemon's log if it takes longer than 10 s. */
  readonly exited: Promise<number | null>;
  stderr(): string;
}

function daemon(password: string, ...extra: string[]): Daemon {
  const passwordFile = join(basedir, 'password');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  const child = spawn(
    process.execPath,
    [entry, 'worker', '--master', master.endpoint, '--name', 'w1', '--password-file', passwordFile, '--basedir', join(basedir, 'worker'), ...extra],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, AMPSTATE_LOG_LEVEL: 'info' } },
  );
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the daemon did not exit; its log:\n${stderr}`)), 10_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  exited.catch(() => undefined);
  return { child, exited, stderr: () => stderr };
}

/** The daemon's master-side connection once logged in; fails with its log if it died first. */
function attached(worker: Daemon) {
  return Promise.race([
    master.attached(),
    worker.exited.then((code) => {
      throw new Error(`the daemon exited (${code}) before logging in; its log:\n${worker.stderr()}`);
    }),
  ]);
}

describe('ampstate worker (separate process)', () => {
  it('logs in, reports its info files, runs a command, and exits 0 on SIGTERM killing its commands', async () => {
    const worker = daemon('secret', '--admin', 'Ops Team <ops@example.org>', '--numcpus', '3', '--delete-leftover-dirs');
    const side = await attached(worker);
    const { info } = await side.call(GetWorkerInfo, {});
    expect(info).toMatchObject({ admin: 'Ops Team <ops@example.org>\n', numcpus: 3, delete_leftover_dirs: true, basedir: join(basedir, 'worker'), system: 'posix' });
    expect(String(info.host)).toMatch(/\n$/);
    expect(readFileSync(join(basedir, 'worker', 'info', 'host'), 'utf8')).toBe(info.host);

    const workdir = join(basedir, 'worker', 'build');
    expect(await side.run('1', 'shell', { command: 'echo hello from $PWD', workdir, logEnviron: false })).toBeUndefined();
    expect(side.text('1', 'stdout')).toBe(`hello from ${workdir}\n`);

    await side.startCommand('2', 'shell', { command: 'sleep 60 & echo $$ $! > pids.tmp; mv pids.tmp pids; wait', workdir, logEnviron: false });
    await waitFor(() => existsSync(join(workdir, 'pids')), 5000, 'the pid file');
    const [shellPid, childPid] = readFileSync(join(workdir, 'pids'), 'utf8').trim().split(' ').map(Number) as [number, number];
    pids.push(shellPid, childPid);
    expect(isAlive(childPid)).toBe(true);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    await waitFor(() => !isAlive(shellPid) && !isAlive(childPid), 3000, 'the process group to die');
    const lines = worker.stderr().trim().split('\n').map((line) => JSON.parse(line) as { msg: string });
    expect(lines.some((line) => line.msg.includes('received SIGTERM'))).toBe(true);
    expect(lines.some((line) => line.msg === 'Connected to master; worker is ready')).toBe(true);
  });

  it('exits 0 about 0.2 s after the master asks it to shut down', async () => {
    const worker = daemon('secret', '--trace-machines');
    const side = await attached(worker);
    await side.call(Shutdown, {});
    const asked = Date.now();
    expect(await worker.exited).toBe(0);
    expect(Date.now() - asked).toBeLessThan(3000);
    expect(worker.stderr()).toContain('worker shutting down on command from master');
    // --trace-machines: every transition of the session machine is a log line.
    expect(worker.stderr()).toMatch(/"msg":"workerSession: loggedIn → \\"attached\\""/);
    expect(worker.stderr()).toMatch(/"msg":"workerSession: stop → \\"stopped\\""/);
  });

  it('logs a refused password and exits 1 once --max-retries is used up', async () => {
    const worker = daemon('wrong', '--max-retries', '1');
    expect(await worker.exited).toBe(1);
    expect(master.sides[0]?.logins).toEqual([{ username: 'w1', password: 'wrong', transferWindow: 16, accepted: false }]);
    expect(worker.stderr()).toMatch(/master refused the login of worker 'w1'/);
    expect(worker.stderr()).toMatch(/giving up after 1 failed attempts in a row/);
  });
});
