/**
 * Worker-side path confinement (docs/master-worker-protocol.md §3.1). A master with
 * `confinePaths` sends the builder directory as `confine_to`; every path a command touches must
 * then resolve physically inside it (actors/confined-path.ts), or the command fails with
 * PathEscapeError before touching anything. Without `confine_to`, paths are used as given, as
 * Buildbot does.
 */
import { randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { Logger } from 'pino';
import { inPinnedDirectory, inPinnedParent, openInside, resolveInside, type ResolveOptions } from '../../confined-path.js';
import { PathEscapeError } from '../../master/errors.js';
import type { CommandArguments } from './command-arguments.js';

/** The canonical argument naming the directory a command is confined to. */
export const CONFINE_TO_ARGUMENT = 'confine_to';

function fsError(code: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: '${path}'`), { code, path });
}

/**
 * A pinned path as a child process can use it: `/proc/self` would be the child's own, so the
 * descriptor is named through this process's pid (which the same user may always read).
 */
function forChildProcess(pinned: string): string {
  return pinned.startsWith('/proc/self/') ? `/proc/${process.pid}/${pinned.slice('/proc/self/'.length)}` : pinned;
}

export class Confinement {
  private constructor(
    /** The directory paths must stay inside; null when the command is not confined. */
    readonly base: string | null,
    private readonly logger: Logger | undefined,
  ) {}

  static of(args: CommandArguments, logger: Logger | undefined): Confinement {
    return new Confinement(args.optionalString(CONFINE_TO_ARGUMENT), logger);
  }

  /** The physical path for `path` (see resolveInside); `path` itself when unconfined. */
  resolve(path: string, options?: ResolveOptions): Promise<string> {
    if (this.base === null) return Promise.resolve(path);
    return this.refusing(resolveInside(this.base, path, options));
  }

  /**
   * Whether `path` provably resolves inside, without the refusal's log line (for filtering glob
   * matches): a walk that fails (a loop of links) proves nothing and counts as outside.
   */
  async contains(path: string, options?: ResolveOptions): Promise<boolean> {
    if (this.base === null) return true;
    return resolveInside(this.base, path, options).then(
      () => true,
      () => false,
    );
  }

  /** Opens a resolved path; confined, the open file is proved to be inside. */
  open(physical: string, flags: string | number): Promise<FileHandle> {
    if (this.base === null) return open(physical, flags);
    return this.refusing(openInside(this.base, physical, flags));
  }

  /** Runs `act` on the entry `physical` through its pinned, verified parent directory. */
  inParent<T>(physical: string, act: (path: string) => Promise<T>): Promise<T> {
    if (this.base === null) return act(physical);
    return this.refusing(inPinnedParent(this.base, physical, act));
  }

  /** Runs `act` on the directory `physical`, pinned and verified. */
  inDirectory<T>(physical: string, act: (path: string) => Promise<T>): Promise<T> {
    if (this.base === null) return act(physical);
    return this.refusing(inPinnedDirectory(this.base, physical, act));
  }

  /** The names in a directory. */
  listDirectory(physical: string): Promise<string[]> {
    return this.inDirectory(physical, (directory) => readdir(directory));
  }

  /** `os.stat` (links followed): a resolved path has no link left at its end unless one was swapped in. */
  statFollowing(physical: string): Promise<BigIntStats> {
    // The base itself is the operator's, and its parent is outside: it is taken as it is.
    if (this.base === null || resolve(physical) === resolve(this.base)) return stat(physical, { bigint: true });
    return this.inParent(physical, async (entry) => {
      const stats = await lstat(entry, { bigint: true });
      if (stats.isSymbolicLink()) throw new PathEscapeError(physical, this.base as string);
      return stats;
    });
  }

  /**
   * `mkdir -p` of a resolved path. Confined, each missing directory is made inside its pinned
   * parent, so no directory swapped for a link on the way can send it outside.
   */
  async makeDirectories(physical: string): Promise<void> {
    if (this.base === null) {
      await mkdir(physical, { recursive: true });
      return;
    }
    const base = this.base;
    const root = resolve(base);
    const names = relative(root, physical).split(sep).filter((name) => name !== '');
    let current = root;
    for (const [index, name] of names.entries()) {
      await this.inDirectory(current, async (pinned) => {
        const entry = join(pinned, name);
        try {
          await mkdir(entry);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
          const existing = await lstat(entry);
          if (existing.isDirectory()) return;
          // The walk saw no link here: one was swapped in since.
          if (existing.isSymbolicLink()) throw new PathEscapeError(physical, base);
          // What `mkdir -p` reports: EEXIST for the last name, ENOTDIR for one on the way.
          throw fsError(index === names.length - 1 ? 'EEXIST' : 'ENOTDIR', physical);
        }
      });
      current = join(current, name);
    }
  }

  /**
   * Removes the entry `physical` (a tree, a file or a link) with `remove`, a helper run on a path
   * that returns its rc. Confined, no directory swapped for a link can redirect it: the entry is
   * first renamed to a random name inside its pinned parent (rename acts on a link itself, so a
   * link swapped in at the end is what gets removed), and `remove` is given that name through the
   * parent's descriptor. When removal fails the entry gets its name back, so a retry finds it.
   */
  async removeEntry(physical: string, remove: (path: string) => Promise<number>): Promise<number> {
    // The base itself is the operator's, and its parent is outside: it is taken as it is.
    if (this.base === null || resolve(physical) === resolve(this.base)) return remove(physical);
    return this.inParent(physical, async (entry) => {
      const doomed = join(dirname(entry), `.ampstate-removing-${basename(entry)}-${randomBytes(6).toString('hex')}`);
      try {
        await rename(entry, doomed);
      } catch (error) {
        // Nothing there is what `rm -f` calls success; any other refusal (a mount point, no write
        // permission) is left for the helper to report, still through the pinned parent.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
        return remove(forChildProcess(entry));
      }
      const rc = await remove(forChildProcess(doomed));
      if (rc !== 0) await rename(doomed, entry).catch(() => undefined);
      return rc;
    });
  }

  /** The parent directory `physical` would be created in, made if missing. */
  async makeParent(physical: string): Promise<void> {
    const parent = dirname(physical);
    try {
      await this.statFollowing(parent);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await this.makeDirectories(parent);
  }

  /** An expected refusal is one warn line, without a stack; the error then fails the command. */
  private async refusing<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      if (error instanceof PathEscapeError) {
        this.logger?.warn({ code: error.code, path: error.path, base: error.base }, error.message);
      }
      throw error;
    }
  }
}
