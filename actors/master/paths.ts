/**
 * Path resolution on the master (docs/master-worker-protocol.md §3.1, the msgpack model): master-facing command arguments
 * (`workdir`, `dir`, `file`, `workersrc`…) become the canonical absolute paths a worker runs with,
 * joined onto `<basedir>/<builddir>` in the worker's flavour (posix or Windows, from `info.system`),
 * with `~` expanded from the worker's environment. The worker then does no path work at all.
 *
 * Joining follows Python's `os.path.join`: an absolute component wins and nothing is normalised,
 * so a master that relies on Buildbot's behaviour sees the same paths. `confine` turns that into a
 * refusal: every resolved path must stay inside the builder directory.
 */
import { posix, win32 } from 'node:path';
import { PathEscapeError } from './errors.js';

export interface PathContext {
  /** The worker's base directory (`info.basedir`). */
  readonly basedir: string;
  /** The builder's directory, relative to basedir (or absolute). */
  readonly builddir: string;
  /** `info.system`: `nt` selects Windows paths; anything else is posix. */
  readonly system?: string;
  /** `info.environ`, for `~`. */
  readonly environ?: Readonly<Record<string, unknown>>;
  /**
   * Refuse any resolved path outside the builder directory (PathEscapeError), and send it to the
   * worker as `confine_to`, so that an ampstate worker also refuses symlinks leading out.
   */
  readonly confine?: boolean;
}

export interface ResolvedCommand {
  readonly commandName: string;
  readonly args: Record<string, unknown>;
}

/** The PB/step spellings of the transfer commands and their canonical names. */
export const TRANSFER_COMMAND_NAMES: Readonly<Record<string, string>> = {
  uploadFile: 'upload_file',
  uploadDirectory: 'upload_directory',
  downloadFile: 'download_file',
};

interface Flavour {
  join(...parts: string[]): string;
  expanduser(path: string, environ: Readonly<Record<string, unknown>>): string;
  within(path: string, base: string): boolean;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** posixpath.join: a component starting with `/` discards what came before. */
function posixJoin(...parts: string[]): string {
  let result = '';
  for (const part of parts) {
    if (part.startsWith('/')) result = part;
    else if (result === '' || result.endsWith('/')) result += part;
    else result += `/${part}`;
  }
  return result;
}

/** ntpath.splitdrive: `C:` or a UNC `\\server\share` prefix. */
function splitDrive(path: string): [string, string] {
  const normal = path.replaceAll('/', '\\');
  if (normal.startsWith('\\\\') && !normal.startsWith('\\\\\\')) {
    const server = normal.indexOf('\\', 2);
    if (server > 2) {
      const share = normal.indexOf('\\', server + 1);
      if (share !== server + 1) {
        const end = share < 0 ? path.length : share;
        return [path.slice(0, end), path.slice(end)];
      }
    }
    return ['', path];
  }
  if (/^[A-Za-z]:/.test(path)) return [path.slice(0, 2), path.slice(2)];
  return ['', path];
}

const isNtSep = (char: string | undefined) => char === '\\' || char === '/';

/** ntpath.join: a rooted component replaces the path (keeping the drive); another drive replaces everything. */
function ntJoin(...parts: string[]): string {
  let [drive, path] = splitDrive(parts[0] ?? '');
  for (const part of parts.slice(1)) {
    const [partDrive, partPath] = splitDrive(part);
    if (isNtSep(partPath[0])) {
      if (partDrive !== '' || drive === '') drive = partDrive;
      path = partPath;
      continue;
    }
    if (partDrive !== '' && partDrive !== drive) {
      if (partDrive.toLowerCase() !== drive.toLowerCase()) {
        drive = partDrive;
        path = partPath;
        continue;
      }
      drive = partDrive;
    }
    if (path !== '' && !isNtSep(path[path.length - 1])) path += '\\';
    path += partPath;
  }
  if (path !== '' && !isNtSep(path[0]) && drive !== '' && !drive.endsWith(':')) return `${drive}\\${path}`;
  return drive + path;
}

/** Only `~` and `~/…` expand: the worker's other users are unknown to the master. */
function posixExpanduser(path: string, environ: Readonly<Record<string, unknown>>): string {
  if (path !== '~' && !path.startsWith('~/')) return path;
  const home = text(environ.HOME);
  if (home === undefined) return path;
  const rest = path.slice(1);
  return (home.endsWith('/') && rest.startsWith('/') ? home.slice(0, -1) : home) + rest;
}

function ntExpanduser(path: string, environ: Readonly<Record<string, unknown>>): string {
  if (path !== '~' && !path.startsWith('~/') && !path.startsWith('~\\')) return path;
  let home = text(environ.USERPROFILE);
  if (home === undefined) {
    const homePath = text(environ.HOMEPATH);
    if (homePath === undefined) return path;
    home = ntJoin(text(environ.HOMEDRIVE) ?? '', homePath);
  }
  return home + path.slice(1);
}

const POSIX: Flavour = {
  join: posixJoin,
  expanduser: posixExpanduser,
  within(path, base) {
    const target = posix.normalize(path);
    const root = posix.normalize(base).replace(/\/+$/, '') || '/';
    return target === root || target.startsWith(root === '/' ? '/' : `${root}/`);
  },
};

const NT: Flavour = {
  join: ntJoin,
  expanduser: ntExpanduser,
  within(path, base) {
    const target = win32.normalize(path).toLowerCase();
    const root = win32.normalize(base).toLowerCase().replace(/\\+$/, '');
    return target === root || target.startsWith(`${root}\\`);
  },
};

function flavourOf(system: string | undefined): Flavour {
  return system === 'nt' ? NT : POSIX;
}

/** `dir` may be one path or a list of them (mkdir, rmdir). */
function pathList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value as string[];
  return undefined;
}

/**
 * Turns master-facing arguments into canonical worker arguments, renaming `uploadFile` to
 * `upload_file` and so on. Arguments already in canonical form (`paths`, `from_path`, `upload_file`
 * with `path`) are sent as they are; unknown commands pass through untouched.
 */
export function resolveCommandArgs(commandName: string, args: Readonly<Record<string, unknown>>, context: PathContext): ResolvedCommand {
  const flavour = flavourOf(context.system);
  const environ = context.environ ?? {};
  const builderDir = flavour.join(context.basedir, context.builddir);
  const out: Record<string, unknown> = { ...args };
  const inBuilder = (...parts: string[]) => flavour.join(builderDir, ...parts);
  const home = (path: string) => flavour.expanduser(path, environ);
  const take = (key: string): unknown => {
    const value = out[key];
    delete out[key];
    return value;
  };

  const renamed = TRANSFER_COMMAND_NAMES[commandName];
  switch (commandName) {
    case 'shell':
    // ampstate's trial_worker (docs/master-worker-protocol.md §3.7) runs in a workdir as shell does.
    case 'trial_worker': {
      const workdir = text(out.workdir);
      out.workdir = workdir === undefined ? builderDir : inBuilder(workdir);
      break;
    }
    case 'mkdir':
    case 'rmdir': {
      if (!('dir' in out)) break;
      const dirs = pathList(take('dir'));
      if (dirs !== undefined) out.paths = dirs.map((dir) => inBuilder(dir));
      break;
    }
    case 'cpdir': {
      const from = text(out.fromdir);
      const to = text(out.todir);
      if (from !== undefined) out.from_path = inBuilder(from);
      if (to !== undefined) out.to_path = inBuilder(to);
      if (from !== undefined) delete out.fromdir;
      if (to !== undefined) delete out.todir;
      break;
    }
    case 'stat': {
      const file = text(out.file);
      if (file === undefined) break;
      out.path = inBuilder(text(take('workdir')) ?? '', file);
      delete out.file;
      break;
    }
    case 'glob': {
      const pattern = text(out.path);
      if (pattern !== undefined) out.path = inBuilder(pattern);
      break;
    }
    case 'listdir': {
      const dir = text(out.dir);
      if (dir === undefined) break;
      out.path = inBuilder(dir);
      delete out.dir;
      break;
    }
    case 'rmfile': {
      const path = text(out.path);
      if (path !== undefined) out.path = inBuilder(home(path));
      break;
    }
    case 'uploadFile':
    case 'uploadDirectory':
    case 'downloadFile': {
      const key = commandName === 'downloadFile' ? 'workerdest' : 'workersrc';
      const relative = text(out[key]);
      if (relative === undefined) break;
      out.path = inBuilder(text(out.workdir) ?? '', home(relative));
      delete out[key];
      delete out.workdir;
      break;
    }
    default:
      break;
  }

  if (context.confine === true) {
    // The physical check needs the worker's filesystem (docs/master-worker-protocol.md §3.1).
    out.confine_to = builderDir;
    for (const key of ['workdir', 'path', 'paths', 'from_path', 'to_path']) {
      const value = out[key];
      const paths = pathList(value);
      if (paths === undefined) continue;
      // glob patterns are checked up to their first wildcard.
      for (const path of paths) {
        const checked = commandName === 'glob' ? path.replace(/[*?[].*$/, '') : path;
        if (!flavour.within(checked, builderDir)) throw new PathEscapeError(path, builderDir);
      }
    }
  }
  return { commandName: renamed ?? commandName, args: out };
}

/** The builder directory a context resolves to (`<basedir>/<builddir>` in the worker's flavour). */
export function builderDirectory(context: Pick<PathContext, 'basedir' | 'builddir' | 'system'>): string {
  return flavourOf(context.system).join(context.basedir, context.builddir);
}
