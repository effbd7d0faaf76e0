/**
 * One scenario list, run against an ampstate worker over AMP and a stock buildbot-worker 3.7 over
 * msgpack, through the same Connection API, RemoteCommand and transfer helpers. Where the
 * two legitimately differ (docs/master-worker-protocol.md §4: kill-on-disconnect, 3.7's shutdown bug, no `failure_reason` or
 * `max_lines` in 3.7) each one's documented behaviour is asserted, under `target.kind`.
 *
 * The worker is shut down by the last scenario, so the order of the list matters.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../actors/master/connection-api.js';
import { WorkerDisconnectedError } from '../../actors/master/errors.js';
import { RemoteCommand, type RemoteCommandOptions, type RemoteCommandResult } from '../../actors/master/remote-command.js';
import { CANCELLED, EXCEPTION, FAILURE, RETRY, SUCCESS } from '../../actors/master/results.js';
import { downloadFile, uploadDirectory, uploadFile, type Transfer, type TransferResult } from '../../actors/master/transfers.js';
import { BUILDER, startTarget, type Target, type TargetKind } from './targets.js';

export interface Ran extends RemoteCommandResult {
  readonly header: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs one command to its end, collecting every stream. */
export async function runCommand(
  connection: Connection,
  name: string,
  args: Record<string, unknown>,
  options: RemoteCommandOptions & { readonly whileRunning?: (command: RemoteCommand) => void | Promise<void> } = {},
): Promise<Ran> {
  const command = new RemoteCommand(name, args, { ...options, collectStdout: true, collectStderr: true });
  let header = '';
  command.updates$.subscribe(({ key, value }) => {
    if (key === 'header') header += String(value);
  });
  const started = performance.now();
  const result = command.run(connection, BUILDER);
  await options.whileRunning?.(command);
  const outcome = await result;
  return { ...outcome, header, stdout: outcome.stdout ?? '', stderr: outcome.stderr ?? '', ms: performance.now() - started };
}

/** A transfer's result plus its stderr (the worker's complaint when it fails). */
async function transferred(transfer: Transfer): Promise<TransferResult & { stderr: string; header: string }> {
  let stderr = '';
  let header = '';
  transfer.command.updates$.subscribe(({ key, value }) => {
    if (key === 'stderr') stderr += String(value);
    if (key === 'header') header += String(value);
  });
  const result = await transfer.result;
  return { ...result, stderr, header };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Alive and not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** A shell command that records its pid, then becomes `sleep` (so the pid is the sleeper's). */
export function sleeperCommand(pidFile: string, seconds: number): string {
  return `echo $$ > '${pidFile}'; exec sleep ${seconds}`;
}

export async function pidFrom(file: string): Promise<number> {
  await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').trim() !== '', 10_000, `${file} to be written`);
  return Number(readFileSync(file, 'utf8').trim());
}

const ALL_COMMANDS = ['shell', 'mkdir', 'rmdir', 'cpdir', 'stat', 'glob', 'listdir', 'rmfile', 'upload_file', 'upload_directory', 'download_file'];

export function defineScenarios(kind: TargetKind, title: string): void {
  describe(title, () => {
    let target: Target;
    const killAtEnd = new Set<number>();

    beforeAll(async () => {
      target = await startTarget(kind, { name: 'w1' });
    }, 60_000);

    afterAll(async () => {
      for (const pid of killAtEnd) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      await target?.teardown();
    }, 30_000);

    beforeEach(({ onTestFailed }) => {
      onTestFailed(() => console.error(`[${kind}] diagnostics:\n${target?.diagnostics()}`));
    });

    const conn = () => target.connection;
    const inWorkdir = (...parts: string[]) => join(target.workdir, ...parts);

    it('attaches: worker info, and the builder directory made by the handshake', () => {
      const info = conn().info!;
      expect(info.system).toBe('posix');
      expect(info.basedir).toBe(target.basedir);
      expect(Object.keys(info.worker_commands as object)).toEqual(expect.arrayContaining([...ALL_COMMANDS, 'uploadFile', 'uploadDirectory', 'downloadFile']));
      // 3.7 reports every command as "3.1"; ampstate follows Buildbot HEAD ("3.3").
      expect(new Set(Object.values(info.worker_commands as object))).toEqual(new Set([kind === 'stock' ? '3.1' : '3.3']));
      if (kind === 'stock') expect(info.version).toMatch(/^3\.7\./);
      expect(statSync(target.builderDir).isDirectory()).toBe(true);
      expect(statSync(join(target.basedir, 'info')).isDirectory()).toBe(true);
      expect(conn().state).toBe('attached');
    });

    it('shell: streams, rc, headers, env (lists joined), stdin, argv lists; output may follow rc', async () => {
      const ran = await runCommand(conn(), 'shell', {
        command: `printf 'out1\\nout2'; printf 'err1\\n' >&2; echo "$AMP_FOO $AMP_LIST"; exit 3`,
        workdir: 'build',
        env: { AMP_FOO: 'bar', AMP_LIST: ['x', 'y'] },
      });
      expect(ran.rc).toBe(3);
      expect(ran.results).toBe(FAILURE);
      // The partial line is flushed at the end with a newline added.
      expect(ran.stdout).toBe('out1\nout2bar x:y\n');
      expect(ran.stderr).toBe('err1\n');
      expect(ran.header).toContain(` in dir ${inWorkdir()}`);
      expect(ran.header).toMatch(/elapsedTime=\d+\.\d{6}\n/);
      expect(ran.updates.elapsed?.[0]).toEqual(expect.any(Number));
      expect(statSync(inWorkdir()).isDirectory()).toBe(true);

      const stdin = await runCommand(conn(), 'shell', { command: 'cat', workdir: 'build', initial_stdin: 'from stdin\n' });
      expect([stdin.rc, stdin.stdout]).toEqual([0, 'from stdin\n']);
      expect(stdin.header).toContain(' writing 11 bytes to stdin');

      const argv = await runCommand(conn(), 'shell', { command: ['printf', '%s|', 'a b', 'c'], workdir: 'build', want_stderr: false });
      expect([argv.rc, argv.stdout]).toEqual([0, 'a b|c|\n']);

      // logfiles are read once more when the process exits, and arrive as ['log', [name, text]].
      const logged = await runCommand(conn(), 'shell', { command: 'echo logged > build.log', workdir: 'build', logfiles: { mylog: 'build.log' } });
      expect(logged.rc).toBe(0);
      expect(logged.updates.log).toEqual([['mylog', 'logged\n']]);
    });

    it('mkdir, cpdir, stat, glob, listdir, rmfile and rmdir', async () => {
      const made = await runCommand(conn(), 'mkdir', { dir: 'build/tree/deep' });
      expect([made.rc, made.results]).toEqual([0, SUCCESS]);
      expect(statSync(inWorkdir('tree', 'deep')).isDirectory()).toBe(true);
      writeFileSync(inWorkdir('tree', 'one.txt'), 'twelve bytes');
      writeFileSync(inWorkdir('tree', 'deep', 'two.txt'), 'two');

      const copied = await runCommand(conn(), 'cpdir', { fromdir: 'build/tree', todir: 'build/copy' });
      expect(copied.rc).toBe(0);
      expect(readFileSync(inWorkdir('copy', 'deep', 'two.txt'), 'utf8')).toBe('two');

      const stat = await runCommand(conn(), 'stat', { file: 'tree/one.txt', workdir: 'build' });
      expect(stat.rc).toBe(0);
      const fields = stat.updates.stat?.[0] as number[];
      expect(fields).toHaveLength(10);
      expect(fields[6]).toBe(12);
      expect((fields[0]! & 0o170000) === 0o100000).toBe(true);

      const glob = await runCommand(conn(), 'glob', { path: 'build/tree/**/*.txt' });
      expect(glob.rc).toBe(0);
      expect([...(glob.updates.files?.[0] as string[])].sort()).toEqual([inWorkdir('tree', 'deep', 'two.txt'), inWorkdir('tree', 'one.txt')]);

      const listing = await runCommand(conn(), 'listdir', { dir: 'build/tree' });
      expect(listing.rc).toBe(0);
      expect([...(listing.updates.files?.[0] as string[])].sort()).toEqual(['deep', 'one.txt']);

      const removedFile = await runCommand(conn(), 'rmfile', { path: 'build/tree/one.txt' });
      expect(removedFile.rc).toBe(0);
      expect(existsSync(inWorkdir('tree', 'one.txt'))).toBe(false);

      const removedDirs = await runCommand(conn(), 'rmdir', { dir: ['build/copy', 'build/tree'] });
      expect(removedDirs.rc).toBe(0);
      expect(existsSync(inWorkdir('copy'))).toBe(false);
      expect(existsSync(inWorkdir('tree'))).toBe(false);
    });

    it('filesystem errors: rc is the errno, with a "<cmd>: <strerror>: <path>" header', async () => {
      const missing = inWorkdir('no-such');
      const stat = await runCommand(conn(), 'stat', { file: 'build/no-such' });
      expect([stat.rc, stat.results, stat.header]).toEqual([2, FAILURE, `stat: No such file or directory: ${missing}\n`]);
      const listing = await runCommand(conn(), 'listdir', { dir: 'build/no-such' });
      expect([listing.rc, listing.header]).toEqual([2, `listdir: No such file or directory: ${missing}\n`]);
      const removed = await runCommand(conn(), 'rmfile', { path: 'build/no-such' });
      expect([removed.rc, removed.header]).toEqual([2, `rmfile: No such file or directory: ${missing}\n`]);
      writeFileSync(inWorkdir('plain-file'), 'x');
      const blocked = await runCommand(conn(), 'mkdir', { dir: 'build/plain-file/sub' });
      expect([blocked.rc, blocked.header]).toEqual([20, `mkdir: Not a directory: ${inWorkdir('plain-file', 'sub')}\n`]);
      const unknown = await runCommand(conn(), 'no_such_command', {});
      expect(unknown.results).toBe(EXCEPTION);
      expect(unknown.failure?.message).toContain("unrecognized WorkerCommand 'no_such_command'");
    });

    it('upload_file: binary data in several blocks, keepstamp and the master-side mode', async () => {
      const data = randomBytes(300 * 1024 + 7);
      writeFileSync(inWorkdir('up.bin'), data);
      utimesSync(inWorkdir('up.bin'), 1_000_000_000, 1_000_000_123);
      const masterdest = join(target.masterDir, 'up.bin');
      const result = await transferred(uploadFile(conn(), { builderName: BUILDER, workersrc: 'up.bin', masterdest, keepstamp: true, mode: 0o640, blocksize: 64 * 1024 }));
      expect([result.rc, result.results, result.bytes]).toEqual([0, SUCCESS, data.length]);
      // Stat before reading: reading would move the access time.
      const written = statSync(masterdest);
      expect(sha256(readFileSync(masterdest))).toBe(sha256(data));
      expect(Math.round(written.mtimeMs / 1000)).toBe(1_000_000_123);
      expect(Math.round(written.atimeMs / 1000)).toBe(1_000_000_000);
      expect(written.mode & 0o777).toBe(0o640);
      expect(result.header).toBe(`sending ${inWorkdir('up.bin')}\n`);
    });

    it('upload_file: maxsize stops after exactly maxsize bytes with rc 1, and the master purges the file', async () => {
      writeFileSync(inWorkdir('nineteen.txt'), '0123456789abcdefghi');
      const masterdest = join(target.masterDir, 'nineteen.txt');
      const result = await transferred(uploadFile(conn(), { builderName: BUILDER, workersrc: 'nineteen.txt', masterdest, maxsize: 5 }));
      expect([result.rc, result.results]).toEqual([1, FAILURE]);
      expect(result.stderr).toContain(`Maximum filesize reached, truncating file '${inWorkdir('nineteen.txt')}'`);
      expect(existsSync(masterdest)).toBe(false);

      const absent = await transferred(uploadFile(conn(), { builderName: BUILDER, workersrc: 'absent.txt', masterdest: join(target.masterDir, 'absent') }));
      expect([absent.rc, absent.results]).toEqual([1, FAILURE]);
      expect(absent.stderr).toContain(`Cannot open file '${inWorkdir('absent.txt')}' for upload`);
      expect(existsSync(join(target.masterDir, 'absent'))).toBe(false);
    });

    it('upload_directory: plain, gz and bz2 tars unpacked on the master', async () => {
      mkdirSync(inWorkdir('dist', 'sub', 'empty'), { recursive: true });
      writeFileSync(inWorkdir('dist', 'a.txt'), 'alpha\n');
      const blob = randomBytes(40_000);
      writeFileSync(inWorkdir('dist', 'sub', 'b.bin'), blob);
      for (const compress of [null, 'gz', 'bz2'] as const) {
        const masterdest = join(target.masterDir, `dist-${compress ?? 'plain'}`);
        const result = await transferred(uploadDirectory(conn(), { builderName: BUILDER, workersrc: 'dist', masterdest, compress }));
        expect([compress, result.rc, result.results]).toEqual([compress, 0, SUCCESS]);
        expect(readFileSync(join(masterdest, 'a.txt'), 'utf8')).toBe('alpha\n');
        expect(sha256(readFileSync(join(masterdest, 'sub', 'b.bin')))).toBe(sha256(blob));
        expect(readdirSync(join(masterdest, 'sub', 'empty'))).toEqual([]);
      }
    });

    it('download_file: bin blocks, mode applied on the worker, maxsize truncates with rc 1', async () => {
      const data = randomBytes(200 * 1024 + 3);
      const mastersrc = join(target.masterDir, 'down.bin');
      writeFileSync(mastersrc, data);
      const result = await transferred(downloadFile(conn(), { builderName: BUILDER, mastersrc, workerdest: 'fetched/down.bin', mode: 0o751 }));
      expect([result.rc, result.results, result.bytes]).toEqual([0, SUCCESS, data.length]);
      expect(sha256(readFileSync(inWorkdir('fetched', 'down.bin')))).toBe(sha256(data));
      expect(statSync(inWorkdir('fetched', 'down.bin')).mode & 0o777).toBe(0o751);

      writeFileSync(join(target.masterDir, 'nineteen.txt'), '0123456789abcdefghi');
      const cut = await transferred(
        downloadFile(conn(), { builderName: BUILDER, mastersrc: join(target.masterDir, 'nineteen.txt'), workerdest: 'cut.txt', maxsize: 5 }),
      );
      expect([cut.rc, cut.results]).toEqual([1, FAILURE]);
      expect(cut.stderr).toContain(`Maximum filesize reached, truncating file '${inWorkdir('cut.txt')}'`);
      // The partial file stays on the worker.
      expect(readFileSync(inWorkdir('cut.txt'), 'utf8')).toBe('01234');
    });

    it('interrupt: the process is killed, complete still arrives, the command is CANCELLED', async () => {
      const pidFile = inWorkdir('interrupt.pid');
      let pid = 0;
      const ran = await runCommand(conn(), 'shell', { command: sleeperCommand(pidFile, 30), workdir: 'build' }, {
        whileRunning: async (command) => {
          pid = await pidFrom(pidFile);
          killAtEnd.add(pid);
          await command.interrupt('scenario says stop');
        },
      });
      expect([ran.interrupted, ran.results, ran.failure]).toEqual([true, CANCELLED, undefined]);
      expect(ran.rc).toBe(-1);
      expect(ran.ms).toBeLessThan(10_000);
      expect(ran.header).toContain('command interrupted');
      expect(isAlive(pid)).toBe(false);
    });

    it('timeouts: no output for `timeout` s, or `maxTime` s in all, kill the command (failure_reason only on ampstate)', async () => {
      const silent = await runCommand(conn(), 'shell', { command: 'sleep 30', workdir: 'build', timeout: 1 });
      expect([silent.rc, silent.results]).toEqual([-1, FAILURE]);
      expect(silent.header).toContain('command timed out: 1 seconds without output running');
      expect(silent.ms).toBeLessThan(8000);

      const long = await runCommand(conn(), 'shell', { command: 'while true; do echo tick; sleep 0.2; done', workdir: 'build', maxTime: 1 });
      expect([long.rc, long.results]).toEqual([-1, FAILURE]);
      expect(long.header).toContain('command timed out: 1 seconds elapsed running');
      expect(long.stdout).toContain('tick\n');

      // failure_reason and max_lines came after 3.7 (docs/master-worker-protocol.md §4/§5): 3.7 sends no reason and ignores max_lines.
      const lines = await runCommand(conn(), 'shell', { command: 'for i in 1 2 3 4 5 6 7 8 9 10; do echo line$i; done; sleep 0.5', workdir: 'build', max_lines: 3 });
      if (kind === 'stock') {
        expect(silent.updates.failure_reason).toBeUndefined();
        expect(long.updates.failure_reason).toBeUndefined();
        expect([lines.rc, lines.stdout.split('\n').length - 1]).toEqual([0, 10]);
      } else {
        expect(silent.updates.failure_reason).toEqual(['timeout_without_output']);
        expect(long.updates.failure_reason).toEqual(['timeout']);
        expect(lines.updates.failure_reason).toEqual(['max_lines_failure']);
        expect(lines.rc).toBe(-1);
      }
    });

    it('runs 4 commands concurrently, each with its own output', async () => {
      const started = performance.now();
      const results = await Promise.all(
        [1, 2, 3, 4].map((index) => runCommand(conn(), 'shell', { command: `sleep 1; echo job${index}`, workdir: 'build' })),
      );
      const wall = performance.now() - started;
      expect(results.map((ran) => [ran.rc, ran.stdout])).toEqual([1, 2, 3, 4].map((index) => [0, `job${index}\n`]));
      // Four one-second sleeps in less than four seconds: they ran side by side.
      expect(wall).toBeLessThan(3900);
    });

    it('refuses a wrong password (401 on the msgpack upgrade, a Login refusal over AMP) and keeps refusing retries', async () => {
      const outcome = await target.tryWrongPassword(6000);
      expect(outcome.attached).toBe(false);
      expect(outcome.refusals).toBeGreaterThanOrEqual(2);
      if (kind === 'stock') expect(outcome.details[0]).toBe('bad-credentials');
      else expect(outcome.details[0]).toContain('unknown name or wrong password');
      expect(conn().state).toBe('attached');
    });

    it('a disconnect fails the running command at once (RETRY); ampstate kills it, 3.7 keeps it running until the master reaps it', async () => {
      const pidFile = inWorkdir('disconnect.pid');
      const before = conn();
      const command = new RemoteCommand('shell', { command: sleeperCommand(pidFile, 60), workdir: 'build' });
      const result = command.run(before, BUILDER);
      const pid = await pidFrom(pidFile);
      killAtEnd.add(pid);
      const reattached = target.expectReattach();
      const dropped = performance.now();
      before.loseConnection();
      const outcome = await result;
      expect(performance.now() - dropped).toBeLessThan(1000);
      expect(outcome.results).toBe(RETRY);
      expect(outcome.failure).toBeInstanceOf(WorkerDisconnectedError);
      if (kind === 'ampstate') {
        // Like PB: the worker kills the commands of a lost connection.
        await waitFor(() => !isAlive(pid), 5000, 'the ampstate worker to kill the command');
      } else {
        // msgpack 3.7: the command runs on, its updates dropped on the worker's side.
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(isAlive(pid)).toBe(true);
      }
      const after = await reattached;
      expect(after).not.toBe(before);
      // Once the stock worker is back, the master interrupts the orphan by its old id.
      await waitFor(() => !isAlive(pid), 8000, 'the orphaned command to be reaped');
      const ran = await runCommand(after, 'shell', { command: 'echo back', workdir: 'build' });
      expect(ran.stdout).toBe('back\n');
    });

    it('reconnects after the master restarts: full handshake again, commands work', async () => {
      const before = conn();
      // Removed while the master is down would race the worker; removed now, the next handshake must remake it.
      rmSync(target.builderDir, { recursive: true, force: true });
      const after = await target.restartMaster(300);
      expect(after).not.toBe(before);
      expect(before.state).toBe('detached');
      // The handshake made the builder directory again.
      expect(statSync(target.builderDir).isDirectory()).toBe(true);
      const ran = await runCommand(after, 'shell', { command: 'echo again', workdir: 'build' });
      expect([ran.rc, ran.stdout]).toEqual([0, 'again\n']);
    });

    it('remoteShutdown with a command running: the worker exits and the command is killed', async () => {
      const pidFile = inWorkdir('shutdown.pid');
      const command = new RemoteCommand('shell', { command: sleeperCommand(pidFile, 60), workdir: 'build' });
      const result = command.run(conn(), BUILDER);
      const pid = await pidFrom(pidFile);
      killAtEnd.add(pid);
      await conn().remoteShutdown();
      await target.workerEnded();
      const outcome = await result;
      // msgpack: the master interrupts first (3.7 would orphan it), so complete arrives; AMP: the worker kills it as it goes.
      expect(outcome.results).toBe(kind === 'stock' ? FAILURE : RETRY);
      await waitFor(() => !isAlive(pid), 5000, 'the command to be killed');
    });
  });
}
