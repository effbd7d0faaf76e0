/**
 * `ampstate worker create|start|stop|status|systemd-unit` as a user runs them: the compiled CLI in
 * dist/ (build first: npx tsc -p .), a real master listener on loopback, and a daemonized worker
 * that outlives the `start` process.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../support/run-cli.js';
import {
  BUILDER_DIR,
  CLI,
  type Master,
  processGone,
  readPid,
  removeDir,
  requireBuilt,
  runCommand,
  startMaster,
  tempRoot,
  waitAttached,
  waitGone,
} from '../integration/harness.js';


function ampstate(args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv; nodeArguments?: readonly string[] } = {}): Promise<CliRun> {
  return runCli(CLI, args, options);
}

const NAME = 'svc-worker';
const PASSWORD = 'svc-secret';

let root: string;
let basedir: string;
let master: Master | undefined;
const daemons: number[] = [];

beforeAll(() => requireBuilt());

beforeEach(() => {
  root = tempRoot('ampstate-svc-');
  basedir = join(root, 'worker');
});

afterEach(async () => {
  for (const pid of daemons.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await master?.listener.stop();
  master = undefined;
  removeDir(root);
});

async function create(endpoint: string, extra: readonly string[] = [], env?: NodeJS.ProcessEnv): Promise<CliRun> {
  return ampstate(['worker', 'create', basedir, endpoint, NAME, '--password-stdin', ...extra], { input: `${PASSWORD}\n`, env });
}

describe('ampstate worker create', () => {
  it('writes a 0600 config with the password and the options, and the info files', async () => {
    const run = await create('tcp:127.0.0.1:9989', ['--max-retries', '3', '--admin', 'Ada <ada@example.org>', '--host-description', 'a test box']);
    expect(run.code).toBe(0);
    const path = join(basedir, 'ampstate-worker.json');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ master: 'tcp:127.0.0.1:9989', name: NAME, password: PASSWORD, maxRetries: 3 });
    expect(readFileSync(join(basedir, 'info', 'admin'), 'utf8')).toBe('Ada <ada@example.org>\n');
    expect(readFileSync(join(basedir, 'info', 'host'), 'utf8')).toBe('a test box\n');
  });

  it('refuses to replace an existing config without --force (exit 2), and replaces it with --force', async () => {
    expect((await create('tcp:127.0.0.1:9989')).code).toBe(0);
    const again = await create('tcp:127.0.0.1:1234');
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists; use --force/);
    expect(JSON.parse(readFileSync(join(basedir, 'ampstate-worker.json'), 'utf8')).master).toBe('tcp:127.0.0.1:9989');
    const forced = await create('tcp:127.0.0.1:1234', ['--force']);
    expect(forced.code).toBe(0);
    expect(JSON.parse(readFileSync(join(basedir, 'ampstate-worker.json'), 'utf8')).master).toBe('tcp:127.0.0.1:1234');
  });

  it('reads the password from a file too, and refuses a malformed endpoint before writing anything', async () => {
    const passwordFile = join(root, 'pw');
    writeFileSync(passwordFile, 'from-file\n');
    const run = await ampstate(['worker', 'create', basedir, 'tcp:127.0.0.1:9989', NAME, '--password-file', passwordFile]);
    expect(run.code).toBe(0);
    expect(JSON.parse(readFileSync(join(basedir, 'ampstate-worker.json'), 'utf8')).password).toBe('from-file');
    const bad = await ampstate(['worker', 'create', join(root, 'other'), 'nonsense', NAME, '--password-file', passwordFile]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(root, 'other'))).toBe(false);
  });
});

describe('ampstate worker start/stop/status', () => {
  it('daemonizes, attaches, and on stop kills the running command, exits and removes the pidfile', async () => {
    master = await startMaster({ workers: { [NAME]: PASSWORD } });
    // As under `npx ampstate`: npm's variables must not reach the build's commands.
    const npmEnv = { ...process.env, npm_config_cache: '/tmp/npm-cache', npm_lifecycle_event: 'npx', npm_execpath: '/usr/lib/npm-cli.js', INIT_CWD: '/somewhere' };
    expect((await create(master.endpoint)).code).toBe(0);
    expect(await ampstate(['worker', 'status', basedir])).toMatchObject({ code: 1, stdout: 'stopped\n' });

    const attached = waitAttached(master.listener, NAME);
    const started = await ampstate(['worker', 'start', basedir], { env: npmEnv });
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(/^worker started \(pid \d+\); log: .*worker\.log\n$/);
    const pid = Number(readFileSync(join(basedir, 'worker.pid'), 'utf8'));
    daemons.push(pid);
    expect(started.stdout).toContain(`pid ${pid}`);
    expect(await ampstate(['worker', 'status', basedir])).toMatchObject({ code: 0, stdout: `running (pid ${pid})\n` });
    const again = await ampstate(['worker', 'start', basedir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`already running (pid ${pid})`);

    const connection = await attached;
    const buildDir = join(basedir, BUILDER_DIR, 'build');
    mkdirSync(buildDir, { recursive: true });
    const env = await runCommand(connection, 'shell', { command: 'env', workdir: 'build', logEnviron: false });
    expect(env.rc).toBe(0);
    const names = env.text('stdout').split('\n').map((line) => line.split('=')[0]);
    expect(names).toContain('PATH');
    expect(names.filter((name) => name?.startsWith('npm_') || name === 'INIT_CWD')).toEqual([]);

    const sleeping = runCommand(connection, 'shell', { command: `echo $$ > ${join(buildDir, 'sleep.pid')}; exec sleep 60`, workdir: 'build', logEnviron: false });
    const sleepPid = await readPid(join(buildDir, 'sleep.pid'));
    expect(processGone(sleepPid)).toBe(false);

    const stopped = await ampstate(['worker', 'stop', basedir]);
    expect(stopped).toMatchObject({ code: 0, stdout: `worker stopped (pid ${pid})\n` });
    await waitGone([pid, sleepPid], 5000);
    expect(existsSync(join(basedir, 'worker.pid'))).toBe(false);
    await sleeping.catch(() => undefined);
    expect(await ampstate(['worker', 'status', basedir])).toMatchObject({ code: 1, stdout: 'stopped\n' });
    expect(readFileSync(join(basedir, 'worker.log'), 'utf8')).toMatch(/received SIGTERM: killing running commands/);
    expect(await ampstate(['worker', 'stop', basedir])).toMatchObject({ code: 0, stdout: `worker not running in ${basedir}\n` });
  });

  it('reports a stale pidfile in status, removes it on stop, and replaces it on start', async () => {
    expect((await create('tcp:127.0.0.1:1')).code).toBe(0);
    // A pid that is surely gone: a child that has exited and been reaped.
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => gone.once('close', resolve));
    writeFileSync(join(basedir, 'worker.pid'), `${gone.pid}\n`);
    expect(await ampstate(['worker', 'status', basedir])).toMatchObject({ code: 1, stdout: `stopped (stale pidfile: pid ${gone.pid} is gone)\n` });
    expect(await ampstate(['worker', 'stop', basedir])).toMatchObject({ code: 0, stdout: `worker not running: removed a stale pidfile (pid ${gone.pid} is gone)\n` });
    expect(existsSync(join(basedir, 'worker.pid'))).toBe(false);

    writeFileSync(join(basedir, 'worker.pid'), `${gone.pid}\n`);
    const started = await ampstate(['worker', 'start', basedir]);
    expect(started.code).toBe(0);
    const pid = Number(readFileSync(join(basedir, 'worker.pid'), 'utf8'));
    daemons.push(pid);
    expect(pid).not.toBe(gone.pid);
    expect(readFileSync(join(basedir, 'worker.log'), 'utf8')).toContain(`removing a stale pidfile: process ${gone.pid} is gone`);
    expect((await ampstate(['worker', 'stop', basedir])).code).toBe(0);
  });

  it("passes node's own options on to the daemon (as child_process.fork does)", async () => {
    expect((await create('tcp:127.0.0.1:1')).code).toBe(0);
    const started = await ampstate(['worker', 'start', basedir], { nodeArguments: ['--max-semi-space-size=1'] });
    expect(started.code, started.stderr).toBe(0);
    const pid = Number(readFileSync(join(basedir, 'worker.pid'), 'utf8'));
    daemons.push(pid);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(argv.slice(0, 3)).toEqual([process.execPath, '--max-semi-space-size=1', CLI]);
    expect((await ampstate(['worker', 'stop', basedir])).code).toBe(0);
  });

  it('start without a config fails in one line (exit 1) and leaves no pidfile', async () => {
    mkdirSync(basedir, { recursive: true });
    const run = await ampstate(['worker', 'start', basedir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^ampstate worker: could not start the worker: cannot read .*ampstate-worker\.json: it does not exist/);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(basedir, 'worker.pid'))).toBe(false);
  });
});

describe('ampstate worker systemd-unit', () => {
  it('prints a unit running this node and CLI in the foreground as the basedir owner', async () => {
    expect((await create('tcp:127.0.0.1:9989')).code).toBe(0);
    const run = await ampstate(['worker', 'systemd-unit', basedir]);
    expect(run.code).toBe(0);
    const user = run.stdout.match(/^User=(.*)$/m)?.[1];
    expect(user === String(statSync(basedir).uid) || user === (process.env.USER ?? user)).toBe(true);
    expect(run.stdout).toContain(`ExecStart=${process.execPath} ${CLI} worker start --nodaemon ${basedir}\n`);
    for (const line of ['Type=simple', 'Restart=on-failure', 'KillMode=mixed', `WorkingDirectory=${basedir}`]) expect(run.stdout).toContain(`${line}\n`);
    const tuned = await ampstate(['worker', 'systemd-unit', basedir], { nodeArguments: ['--max-semi-space-size=1'] });
    expect(tuned.stdout).toContain(`ExecStart=${process.execPath} --max-semi-space-size=1 ${CLI} worker start --nodaemon ${basedir}\n`);
  });
});
