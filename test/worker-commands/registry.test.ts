import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  collectWorkerInfo,
  InvalidArgumentError,
  MissingArgumentsError,
  startCommand,
  UnknownCommandError,
  WORKER_COMMAND_VERSION,
  workerCommands,
} from '../../actors/worker/commands/index.js';
import { FakeMaster, removeDir, tempDir } from './harness.js';

let root: string;

beforeEach(() => {
  root = tempDir();
});

afterEach(() => removeDir(root));

const env = () => ({ basedir: root, environ: {} });

describe('startCommand', () => {
  it('rejects an unknown command synchronously with Buildbot\'s text', () => {
    const start = () => startCommand('frobnicate', {}, new FakeMaster(), env());
    expect(start).toThrow(UnknownCommandError);
    expect(start).toThrow("unrecognized WorkerCommand 'frobnicate'");
    try {
      start();
    } catch (error) {
      expect((error as UnknownCommandError).code).toBe('WORKER_COMMAND_UNKNOWN');
    }
  });

  it.each([
    ['shell', 'WorkerShellCommand is missing args: workdir, command'],
    ['mkdir', 'MakeDirectory is missing args: paths'],
    ['rmdir', 'RemoveDirectory is missing args: paths'],
    ['cpdir', 'CopyDirectory is missing args: to_path, from_path'],
    ['stat', 'StatFile is missing args: path'],
    ['glob', 'GlobPath is missing args: path'],
    ['listdir', 'ListDir is missing args: path'],
    ['rmfile', 'RemoveFile is missing args: path'],
    ['upload_file', 'WorkerFileUploadCommand is missing args: path, blocksize'],
    ['upload_directory', 'WorkerDirectoryUploadCommand is missing args: path, blocksize'],
    ['download_file', 'WorkerFileDownloadCommand is missing args: path, blocksize'],
  ])('%s lists its missing args', (name, message) => {
    const master = new FakeMaster();
    const start = () => startCommand(name, {}, master, env());
    expect(start).toThrow(MissingArgumentsError);
    expect(start).toThrow(message);
    expect(master.updates).toEqual([]);
  });

  it('names only the args that are missing; null counts as present', () => {
    expect(() => startCommand('shell', { workdir: root }, new FakeMaster(), env())).toThrow('WorkerShellCommand is missing args: command');
    expect(() => startCommand('stat', { path: null }, new FakeMaster(), env())).toThrow(InvalidArgumentError);
  });

  it('rejects arguments of the wrong type at start', () => {
    expect(() => startCommand('upload_file', { path: '/x', blocksize: 0 }, new FakeMaster(), env())).toThrow(
      "WorkerFileUploadCommand: argument 'blocksize' must be a positive integer",
    );
    expect(() => startCommand('upload_directory', { path: '/x', blocksize: 1, compress: 'xz' }, new FakeMaster(), env())).toThrow(
      InvalidArgumentError,
    );
  });

  it('accepts the camelCase transfer names', async () => {
    const path = join(root, 'file');
    writeFileSync(path, 'data');
    const master = new FakeMaster();
    const command = startCommand('uploadFile', { path, blocksize: 16, maxsize: null }, master, env());
    await command.done;
    expect(master.calls).toEqual(['write 4', 'close']);
    expect(Object.keys(workerCommands)).not.toContain('uploadFile');
  });

  it('ignores interrupts after completion and settles done after kill()', async () => {
    const master = new FakeMaster();
    const command = startCommand('stat', { path: root }, master, env());
    await command.done;
    const sent = master.updates.length;
    command.interrupt('late');
    command.kill();
    expect(master.updates).toHaveLength(sent);
  });
});

describe('collectWorkerInfo', () => {
  it('reports info files, os-release, environment and the command versions', async () => {
    mkdirSync(join(root, 'info'));
    writeFileSync(join(root, 'info', 'admin'), 'Test Admin <a@b>\n');
    writeFileSync(join(root, 'info', 'host'), 'build box\r\nsecond line\r\n');
    mkdirSync(join(root, 'info', 'subdir'));
    const osRelease = join(root, 'os-release');
    writeFileSync(osRelease, '# comment\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\nEMPTY=\nnot a pair\nQUOTE=\'single\'\n');
    const info = await collectWorkerInfo(root, {
      version: '1.2.3',
      numcpus: 3,
      environ: { HOME: '/home/w', UNSET: undefined },
      osReleasePath: osRelease,
    });
    expect(info).toEqual({
      admin: 'Test Admin <a@b>\n',
      host: 'build box\nsecond line\n',
      os_name: 'Debian GNU/Linux',
      os_version_id: '12',
      os_id: 'debian',
      os_quote: "'single'",
      environ: { HOME: '/home/w' },
      system: 'posix',
      basedir: root,
      numcpus: 3,
      version: '1.2.3',
      worker_commands: Object.fromEntries(
        [
          'shell',
          'mkdir',
          'rmdir',
          'cpdir',
          'stat',
          'glob',
          'listdir',
          'rmfile',
          'upload_file',
          'upload_directory',
          'download_file',
          'trial_worker',
          'uploadFile',
          'uploadDirectory',
          'downloadFile',
        ].map((name) => [name, WORKER_COMMAND_VERSION]),
      ),
      delete_leftover_dirs: false,
    });
  });

  it('detects the CPU count and copes with a missing info dir and os-release', async () => {
    const info = await collectWorkerInfo(root, { version: 'v', osReleasePath: join(root, 'none'), deleteLeftoverDirs: true });
    expect(info['numcpus']).toBeGreaterThanOrEqual(1);
    expect(info['delete_leftover_dirs']).toBe(true);
    expect(Object.keys(info).filter((key) => key.startsWith('os_'))).toEqual([]);
    expect(info['environ']).toMatchObject({ PATH: process.env['PATH'] });
  });
});
