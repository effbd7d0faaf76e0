/**
 * Every worker command, run by the master in this process on an `ampstate worker` child process
 * over loopback TCP: shell (streamed output, env, list argv, want_stderr), the filesystem commands
 * with Buildbot's rc/errno semantics, and the three ways a shell command is stopped early:
 * interrupt, `timeout` (no output) and `maxTime`.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANCELLED, FAILURE, SUCCESS } from '../../actors/master/results.js';
import { runCommand, startFarm, type Farm } from './harness.js';

let farm: Farm;

beforeAll(async () => {
  farm = await startFarm();
});

afterAll(async () => {
  await farm?.stop();
});

describe('shell', () => {
  it('runs a string through /bin/sh in the workdir, streaming stdout and stderr, with env and rc', async () => {
    const result = await runCommand(farm.connection, 'shell', {
      command: 'echo "out $GREETING"; pwd; echo "err line" >&2; exit 3',
      workdir: 'build/sub',
      env: { GREETING: 'hello ${USER_UNSET_XYZ}world', PATHLIKE: ['a', 'b'] },
      logEnviron: false,
    });
    const workdir = join(farm.buildDir, 'sub');
    expect(result.rc).toBe(3);
    expect(result.results).toBe(FAILURE);
    expect(result.failure).toBeUndefined();
    expect(result.text('stdout')).toBe(`out hello world\n${workdir}\n`);
    expect(result.text('stderr')).toBe('err line\n');
    const headers = result.text('header');
    expect(headers).toContain(` in dir ${workdir}`);
    expect(headers).toContain('elapsedTime=');
    expect(result.updates.elapsed).toHaveLength(1);
  });

  it('execs a list argv directly, honours want_stderr and logEnviron', async () => {
    const result = await runCommand(farm.connection, 'shell', {
      command: ['/bin/sh', '-c', 'printf "%s|" "$@"; echo oops >&2', 'argv0', 'a b', '$HOME'],
      workdir: 'build',
      want_stderr: false,
      env: { ONLY_IN_TEST: 'yes' },
    });
    expect(result.rc).toBe(0);
    expect(result.results).toBe(SUCCESS);
    // The last partial line is flushed with a newline appended (docs/master-worker-protocol.md §2.1).
    expect(result.text('stdout')).toBe('a b|$HOME|\n');
    expect(result.text('stderr')).toBe('');
    expect(result.text('header')).toContain('  ONLY_IN_TEST=yes');
  });

  it('streams output line by line while the command still runs', async () => {
    const seen: number[] = [];
    const started = Date.now();
    const result = await runCommand(
      farm.connection,
      'shell',
      { command: 'for i in 1 2 3; do echo line $i; sleep 0.3; done', workdir: 'build', logEnviron: false },
      { onUpdate: (update) => update.key === 'stdout' && void seen.push(Date.now() - started) },
    );
    const finished = Date.now() - started;
    expect(result.rc).toBe(0);
    expect(result.text('stdout')).toBe('line 1\nline 2\nline 3\n');
    // Line 1 is printed 0.9 s before the command exits: it must not wait for the end.
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(finished - seen[0]!).toBeGreaterThan(400);
  });

  it('reports a missing executable as rc 1 with a message on stderr', async () => {
    const result = await runCommand(farm.connection, 'shell', { command: ['/no/such/program'], workdir: 'build', logEnviron: false });
    expect(result.rc).toBe(1);
    expect(result.text('stderr')).toContain('/no/such/program');
  });
});

describe('stopping a shell command early', () => {
  it('interrupt: kills it and the command is CANCELLED', async () => {
    const started = Date.now();
    const result = await runCommand(
      farm.connection,
      'shell',
      { command: 'echo ready; sleep 30', workdir: 'build', logEnviron: false },
      { interruptAfter: (update) => update.key === 'stdout' },
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.interrupted).toBe(true);
    expect(result.results).toBe(CANCELLED);
    expect(result.rc).toBe(-1);
    expect(result.text('header')).toContain('command interrupted, attempting to kill');
    expect(result.text('stdout')).toBe('ready\n');
  });

  it('timeout: no output for `timeout` seconds kills it (failure_reason timeout_without_output)', async () => {
    const started = Date.now();
    const result = await runCommand(farm.connection, 'shell', { command: 'echo once; sleep 30', workdir: 'build', timeout: 1, logEnviron: false });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(10_000);
    expect(result.rc).toBe(-1);
    expect(result.results).toBe(FAILURE);
    expect(result.interrupted).toBe(false);
    expect(result.updates.failure_reason).toEqual(['timeout_without_output']);
    expect(result.text('header')).toContain('command timed out: 1 seconds without output running');
  });

  it('maxTime: a command that keeps printing is still killed after maxTime seconds (failure_reason timeout)', async () => {
    const started = Date.now();
    const result = await runCommand(farm.connection, 'shell', {
      command: 'while true; do echo tick; sleep 0.1; done',
      workdir: 'build',
      timeout: 1,
      maxTime: 1.5,
      logEnviron: false,
    });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(10_000);
    expect(result.rc).toBe(-1);
    expect(result.updates.failure_reason).toEqual(['timeout']);
    expect(result.text('header')).toContain('command timed out: 1.5 seconds elapsed running');
    expect(result.text('stdout')).toMatch(/^(tick\n){5,}$/);
  });
});

describe('filesystem commands', () => {
  it('mkdir creates nested directories; on a file in the way rc is the errno with a header', async () => {
    const made = await runCommand(farm.connection, 'mkdir', { dir: 'build/fs/a/b' });
    expect(made.rc).toBe(0);
    expect(statSync(join(farm.buildDir, 'fs/a/b')).isDirectory()).toBe(true);

    writeFileSync(join(farm.buildDir, 'fs/blocker'), 'x');
    const blocked = await runCommand(farm.connection, 'mkdir', { dir: 'build/fs/blocker/c' });
    expect(blocked.rc).toBe(20); // ENOTDIR
    expect(blocked.text('header')).toContain('Not a directory');
  });

  it('stat returns the 10 stat ints; a missing file is rc 2', async () => {
    writeFileSync(join(farm.buildDir, 'stat-me'), '12345');
    const found = await runCommand(farm.connection, 'stat', { file: 'build/stat-me' });
    expect(found.rc).toBe(0);
    const [values] = found.updates.stat as [number[]];
    expect(values).toHaveLength(10);
    expect(values[6]).toBe(5); // size
    expect(values[0]! & 0o170000).toBe(0o100000); // S_IFREG

    const missing = await runCommand(farm.connection, 'stat', { file: 'build/no-such-file' });
    expect(missing.rc).toBe(2);
    expect(missing.text('header')).toContain('No such file or directory');
  });

  it('glob matches recursively with **, listdir lists names, and a missing dir is rc 2', async () => {
    mkdirSync(join(farm.buildDir, 'g/deep/er'), { recursive: true });
    for (const file of ['g/one.txt', 'g/two.log', 'g/deep/three.txt', 'g/deep/er/four.txt']) writeFileSync(join(farm.buildDir, file), file);
    const globbed = await runCommand(farm.connection, 'glob', { path: 'build/g/**/*.txt' });
    expect(globbed.rc).toBe(0);
    const [files] = globbed.updates.files as [string[]];
    expect([...files].sort()).toEqual(['g/deep/er/four.txt', 'g/deep/three.txt', 'g/one.txt'].map((file) => join(farm.buildDir, file)).sort());

    const listed = await runCommand(farm.connection, 'listdir', { dir: 'build/g' });
    expect(listed.rc).toBe(0);
    expect([...(listed.updates.files as [string[]])[0]].sort()).toEqual(['deep', 'one.txt', 'two.log']);

    const missing = await runCommand(farm.connection, 'listdir', { dir: 'build/g/nope' });
    expect(missing.rc).toBe(2);
  });

  it('cpdir copies a tree (cp -R -P -p -v output on stdout), keeping symlinks as links', async () => {
    mkdirSync(join(farm.buildDir, 'src-tree/nested'), { recursive: true });
    writeFileSync(join(farm.buildDir, 'src-tree/nested/file.txt'), 'copied');
    symlinkSync('nested/file.txt', join(farm.buildDir, 'src-tree/link'));
    const result = await runCommand(farm.connection, 'cpdir', { fromdir: 'build/src-tree', todir: 'build/copies/dst-tree', logEnviron: false });
    expect(result.rc).toBe(0);
    expect(readFileSync(join(farm.buildDir, 'copies/dst-tree/nested/file.txt'), 'utf8')).toBe('copied');
    expect(lstatSync(join(farm.buildDir, 'copies/dst-tree/link')).isSymbolicLink()).toBe(true);
    expect(result.text('stdout')).toContain('file.txt');
  });

  it('rmfile removes a file; a missing one is rc 2', async () => {
    writeFileSync(join(farm.buildDir, 'doomed'), 'x');
    const removed = await runCommand(farm.connection, 'rmfile', { path: 'build/doomed' });
    expect(removed.rc).toBe(0);
    expect(existsSync(join(farm.buildDir, 'doomed'))).toBe(false);
    const again = await runCommand(farm.connection, 'rmfile', { path: 'build/doomed' });
    expect(again.rc).toBe(2);
  });

  it('rmdir removes trees (a list of them) with rm -rf and shell-style headers', async () => {
    mkdirSync(join(farm.buildDir, 'rm1/x/y'), { recursive: true });
    mkdirSync(join(farm.buildDir, 'rm2'), { recursive: true });
    writeFileSync(join(farm.buildDir, 'rm1/x/y/f'), 'f');
    const result = await runCommand(farm.connection, 'rmdir', { dir: ['build/rm1', 'build/rm2'], logEnviron: false });
    expect(result.rc).toBe(0);
    expect(existsSync(join(farm.buildDir, 'rm1'))).toBe(false);
    expect(existsSync(join(farm.buildDir, 'rm2'))).toBe(false);
    expect(result.text('header')).toContain('rm -rf');
  });
});
