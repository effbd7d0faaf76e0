import { describe, expect, it } from 'vitest';
import { PathEscapeError } from '../../actors/master/errors.js';
import { resolveCommandArgs, type PathContext } from '../../actors/master/paths.js';

const posix: PathContext = { basedir: '/srv/worker', builddir: 'linux', system: 'posix', environ: { HOME: '/home/bot' } };
const nt: PathContext = { basedir: 'C:\\bb\\worker', builddir: 'win', system: 'nt', environ: { USERPROFILE: 'C:\\Users\\bot' } };

describe('resolveCommandArgs (docs/master-worker-protocol.md §3.1)', () => {
  it('turns every master-facing argument into its canonical worker form (posix)', () => {
    const cases: Array<[string, Record<string, unknown>, string, Record<string, unknown>]> = [
      ['shell', { workdir: 'build', command: 'make' }, 'shell', { workdir: '/srv/worker/linux/build', command: 'make' }],
      ['mkdir', { dir: 'build/out' }, 'mkdir', { paths: ['/srv/worker/linux/build/out'] }],
      ['rmdir', { dir: ['a', 'b'], timeout: 60 }, 'rmdir', { paths: ['/srv/worker/linux/a', '/srv/worker/linux/b'], timeout: 60 }],
      ['cpdir', { fromdir: 'src', todir: 'dst' }, 'cpdir', { from_path: '/srv/worker/linux/src', to_path: '/srv/worker/linux/dst' }],
      ['stat', { file: 'x.o', workdir: 'build' }, 'stat', { path: '/srv/worker/linux/build/x.o' }],
      ['stat', { file: 'x.o' }, 'stat', { path: '/srv/worker/linux/x.o' }],
      ['glob', { path: 'build/*.o' }, 'glob', { path: '/srv/worker/linux/build/*.o' }],
      ['listdir', { dir: 'build' }, 'listdir', { path: '/srv/worker/linux/build' }],
      ['rmfile', { path: '~/junk' }, 'rmfile', { path: '/home/bot/junk' }],
      [
        'uploadFile',
        { workdir: 'build', workersrc: 'a.tgz', blocksize: 16, maxsize: null, keepstamp: false },
        'upload_file',
        { path: '/srv/worker/linux/build/a.tgz', blocksize: 16, maxsize: null, keepstamp: false },
      ],
      ['uploadDirectory', { workdir: 'build', workersrc: '~', compress: 'gz' }, 'upload_directory', { path: '/home/bot', compress: 'gz' }],
      ['downloadFile', { workdir: 'build', workerdest: 'in/x', mode: 0o644 }, 'download_file', { path: '/srv/worker/linux/build/in/x', mode: 0o644 }],
      ['upload_file', { path: '/already/canonical', blocksize: 1 }, 'upload_file', { path: '/already/canonical', blocksize: 1 }],
      ['somethingNew', { dir: 'kept' }, 'somethingNew', { dir: 'kept' }],
    ];
    for (const [name, args, expectedName, expectedArgs] of cases) {
      expect(resolveCommandArgs(name, args, posix), name).toEqual({ commandName: expectedName, args: expectedArgs });
    }
  });

  it('lets an absolute component win and normalises nothing, as os.path.join', () => {
    expect(resolveCommandArgs('shell', { workdir: '/opt/elsewhere' }, posix).args.workdir).toBe('/opt/elsewhere');
    expect(resolveCommandArgs('mkdir', { dir: '../sibling' }, posix).args.paths).toEqual(['/srv/worker/linux/../sibling']);
    expect(resolveCommandArgs('shell', {}, posix).args.workdir).toBe('/srv/worker/linux');
    expect(resolveCommandArgs('rmfile', { path: '~other/x' }, posix).args.path).toBe('/srv/worker/linux/~other/x');
  });

  it('uses Windows paths and USERPROFILE when the worker is nt', () => {
    expect(resolveCommandArgs('shell', { workdir: 'build' }, nt).args.workdir).toBe('C:\\bb\\worker\\win\\build');
    expect(resolveCommandArgs('downloadFile', { workdir: 'build', workerdest: '~\\x.txt' }, nt).args.path).toBe('C:\\Users\\bot\\x.txt');
    expect(resolveCommandArgs('shell', { workdir: 'D:\\other' }, nt).args.workdir).toBe('D:\\other');
    expect(resolveCommandArgs('shell', { workdir: '\\rooted' }, nt).args.workdir).toBe('C:\\rooted');
    expect(resolveCommandArgs('listdir', { dir: 'a/b' }, nt).args.path).toBe('C:\\bb\\worker\\win\\a/b');
    const homeDrive = { ...nt, environ: { HOMEDRIVE: 'E:', HOMEPATH: '\\Users\\x' } };
    expect(resolveCommandArgs('rmfile', { path: '~\\f' }, homeDrive).args.path).toBe('E:\\Users\\x\\f');
  });

  it('with confine, refuses any path that leaves the builder directory', () => {
    const confined = { ...posix, confine: true };
    const escapes: Array<[string, Record<string, unknown>]> = [
      ['shell', { workdir: '/etc' }],
      ['mkdir', { dir: ['ok', '../../etc'] }],
      ['cpdir', { fromdir: 'a', todir: '../b' }],
      ['rmfile', { path: '~/x' }],
      ['glob', { path: '../*' }],
      ['uploadFile', { workdir: 'build', workersrc: '../../../etc/passwd' }],
    ];
    for (const [name, args] of escapes) {
      let error: unknown;
      try {
        resolveCommandArgs(name, args, confined);
      } catch (caught) {
        error = caught;
      }
      expect(error, name).toBeInstanceOf(PathEscapeError);
      expect((error as PathEscapeError).code).toBe('WORKER_ERR_PATH_ESCAPE');
    }
    expect(resolveCommandArgs('glob', { path: 'build/**/*.o' }, confined).args.path).toBe('/srv/worker/linux/build/**/*.o');
    // The worker needs the base for the physical check (docs/master-worker-protocol.md §3.1).
    expect(resolveCommandArgs('mkdir', { dir: 'ok' }, confined).args.confine_to).toBe('/srv/worker/linux');
    expect(resolveCommandArgs('shell', { workdir: 'a/../b' }, confined).args.workdir).toBe('/srv/worker/linux/a/../b');
    expect(() => resolveCommandArgs('shell', { workdir: '..\\..\\x' }, { ...nt, confine: true })).toThrow(PathEscapeError);
  });
});
