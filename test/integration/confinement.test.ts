/**
 * Paths escaping their base directory, with a real `ampstate worker` process:
 * - worker-side paths, when the Listener has `confinePaths`: every command argument must resolve
 *   inside the builder directory; an escape is refused on the master before anything is sent;
 * - master-side paths of transfers with `masterBasedir`: `..`, absolute paths and symlinks leading
 *   out are refused before the command starts, and nothing is written anywhere.
 */
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PathEscapeError } from '../../actors/master/errors.js';
import { EXCEPTION, SUCCESS } from '../../actors/master/results.js';
import { downloadFile, uploadDirectory, uploadFile } from '../../actors/master/transfers.js';
import { BUILDER, BUILDER_DIR, listTree, removeDir, runCommand, startFarm, type Farm } from './harness.js';

/** Absolute paths outside every base directory, unique to this run. */
const ABSOLUTE_DIR = join(tmpdir(), `ampstate-escaped-${process.pid}-dir`);
const ABSOLUTE_FILE = join(tmpdir(), `ampstate-escaped-${process.pid}-upload.txt`);

afterAll(() => {
  removeDir(ABSOLUTE_DIR);
  removeDir(ABSOLUTE_FILE);
});

describe('confinePaths: worker paths stay inside the builder directory', () => {
  let farm: Farm;
  let builderDir: string;

  beforeAll(async () => {
    farm = await startFarm({ master: { confinePaths: true } });
    builderDir = join(farm.workerBase, BUILDER_DIR);
  });

  afterAll(async () => {
    await farm?.stop();
  });

  it('a path inside is accepted', async () => {
    const result = await runCommand(farm.connection, 'mkdir', { dir: 'build/inside' });
    expect(result.rc).toBe(0);
    expect(existsSync(join(farm.buildDir, 'inside'))).toBe(true);
  });

  it.each([
    ['mkdir', { dir: '../../escaped-mkdir' }, '../../escaped-mkdir'],
    ['mkdir', { dir: ABSOLUTE_DIR }, ABSOLUTE_DIR],
    ['shell', { command: 'touch escaped-shell', workdir: '..', logEnviron: false }, '../escaped-shell'],
    ['rmfile', { path: '../victim' }, undefined],
    ['cpdir', { fromdir: 'build', todir: '../escaped-copy' }, '../escaped-copy'],
    ['glob', { path: '../*' }, undefined],
    ['listdir', { dir: '..' }, undefined],
    ['stat', { file: '../../info/admin' }, undefined],
  ] as const)('%s %j is refused with a clear PathEscapeError, nothing sent', async (name, args, wouldCreate) => {
    writeFileSync(join(farm.workerBase, 'victim'), 'still here');
    const result = await runCommand(farm.connection, name, { ...args });
    expect(result.failure).toBeInstanceOf(PathEscapeError);
    expect(result.failure?.message).toMatch(/^path '.+' escapes its base directory '.+build-b'$/);
    expect(result.results).toBe(EXCEPTION);
    expect(result.rc).toBeUndefined();
    expect(result.all).toEqual([]);
    // Where the command would have written, relative to the builder directory.
    if (wouldCreate !== undefined) expect(existsSync(resolve(builderDir, wouldCreate))).toBe(false);
    expect(existsSync(join(farm.workerBase, 'victim'))).toBe(true);
  });

  describe('a symlink in the builder directory that leads out (docs/master-worker-protocol.md §3.1)', () => {
    let outside: string;

    beforeAll(() => {
      outside = join(farm.root, 'outside-worker');
      mkdirSync(join(outside, 'sub'), { recursive: true });
      writeFileSync(join(outside, 'secret.txt'), 'top secret');
      symlinkSync(outside, join(farm.buildDir, 'link-out'));
    });

    it.each([
      ['mkdir', { dir: 'build/link-out/made' }],
      ['rmdir', { dir: 'build/link-out/sub', logEnviron: false }],
      ['rmfile', { path: 'build/link-out/secret.txt' }],
      ['cpdir', { fromdir: 'build/link-out/sub', todir: 'build/stolen-copy' }],
      ['stat', { file: 'build/link-out/secret.txt' }],
      ['listdir', { dir: 'build/link-out' }],
      ['glob', { path: 'build/link-out/*' }],
    ] as const)('%s %j fails on the worker with PathEscapeError; outside is untouched', async (name, args) => {
      const result = await runCommand(farm.connection, name, { ...args });
      expect(result.results).toBe(EXCEPTION);
      expect(result.failure?.message).toMatch(/path '.+link-out.*' escapes its base directory '.+build-b'/);
      expect(listTree(outside)).toEqual(['secret.txt', 'sub']);
      expect(result.all.some((update) => update.key === 'files' || update.key === 'stat')).toBe(false);
    });

    it('uploadFile through it sends nothing; downloadFile through it writes nothing', async () => {
      const upload = await uploadFile(farm.connection, { builderName: BUILDER, workersrc: 'link-out/secret.txt', masterdest: 'secret.txt', masterBasedir: farm.masterBase })
        .result;
      expect(upload.results).toBe(EXCEPTION);
      expect(listTree(farm.masterBase)).toEqual([]);
      writeFileSync(join(farm.masterBase, 'planted.txt'), 'planted');
      const download = await downloadFile(farm.connection, { builderName: BUILDER, mastersrc: 'planted.txt', workerdest: 'link-out/planted.txt', masterBasedir: farm.masterBase })
        .result;
      expect(download.results).toBe(EXCEPTION);
      expect(listTree(outside)).toEqual(['secret.txt', 'sub']);
      rmSync(join(farm.masterBase, 'planted.txt'));
    });
  });

  it('a transfer whose worker path escapes is refused; nothing is written on the master', async () => {
    const result = await uploadFile(farm.connection, { builderName: BUILDER, workersrc: '../../info/admin', masterdest: 'admin.txt', masterBasedir: farm.masterBase })
      .result;
    expect(result.failure).toBeInstanceOf(PathEscapeError);
    expect(result.results).toBe(EXCEPTION);
    expect(listTree(farm.masterBase)).toEqual([]);
  });
});

describe('masterBasedir: master paths stay inside it', () => {
  let farm: Farm;
  let outside: string;

  beforeAll(async () => {
    farm = await startFarm();
    outside = join(farm.root, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.txt'), 'top secret');
    symlinkSync(outside, join(farm.masterBase, 'link-out'));
    writeFileSync(join(farm.buildDir, 'artifact.txt'), 'artifact');
    mkdirSync(join(farm.buildDir, 'tree'));
    writeFileSync(join(farm.buildDir, 'tree/file'), 'file');
  });

  afterAll(async () => {
    await farm?.stop();
  });

  it('a destination inside is accepted (the control case)', async () => {
    const result = await uploadFile(farm.connection, { builderName: BUILDER, workersrc: 'artifact.txt', masterdest: 'ok/artifact.txt', masterBasedir: farm.masterBase })
      .result;
    expect(result.results).toBe(SUCCESS);
    expect(existsSync(join(farm.masterBase, 'ok/artifact.txt'))).toBe(true);
  });

  it.each(['../outside/escaped.txt', ABSOLUTE_FILE, 'link-out/escaped.txt'])(
    'uploadFile to %s is rejected before the worker is asked',
    async (masterdest) => {
      const transfer = uploadFile(farm.connection, { builderName: BUILDER, workersrc: 'artifact.txt', masterdest, masterBasedir: farm.masterBase });
      const error = await transfer.result.then(
        () => undefined,
        (rejection: unknown) => rejection,
      );
      expect(error).toBeInstanceOf(PathEscapeError);
      expect((error as Error).message).toMatch(/escapes its base directory/);
      expect(transfer.command.commandId).toBeUndefined();
      expect(listTree(outside)).toEqual(['secret.txt']);
      expect(existsSync(ABSOLUTE_FILE)).toBe(false);
    },
  );

  it.each(['../outside/tree', 'link-out/tree'])('uploadDirectory to %s is rejected', async (masterdest) => {
    const transfer = uploadDirectory(farm.connection, { builderName: BUILDER, workersrc: 'tree', masterdest, masterBasedir: farm.masterBase, compress: 'gz' });
    await expect(transfer.result).rejects.toBeInstanceOf(PathEscapeError);
    expect(listTree(outside)).toEqual(['secret.txt']);
  });

  it.each(['../outside/secret.txt', join('/', 'etc', 'hostname'), 'link-out/secret.txt'])(
    'downloadFile from %s is rejected; the worker gets nothing',
    async (mastersrc) => {
      const transfer = downloadFile(farm.connection, { builderName: BUILDER, mastersrc, workerdest: 'stolen.txt', masterBasedir: farm.masterBase });
      await expect(transfer.result).rejects.toBeInstanceOf(PathEscapeError);
      expect(transfer.command.commandId).toBeUndefined();
      expect(existsSync(join(farm.buildDir, 'stolen.txt'))).toBe(false);
    },
  );
});
