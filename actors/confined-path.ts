/**
 * Physical path confinement, for both ends of the farm (docs/master-worker-protocol.md §3.1).
 *
 * A lexical check (`..`, absolute paths) cannot see symlinks, so a path is walked here the way the
 * kernel walks it, one component at a time from the base, every symlink read and followed by
 * hand: a link whose target leaves the base (even on its way, as `../../base/x` does) is an
 * escape, however deep it sits in a chain, and so is a dangling link pointing out (creating
 * through it would create outside). Links that stay inside are followed and allowed.
 *
 * A check alone leaves a window in which a checked directory could be swapped for a link. So the
 * use is tied to what was checked: `openInside` verifies the descriptor it opened, and
 * `inPinnedDirectory` hands out a path through an open, verified directory descriptor
 * (`/proc/self/fd/N` on Linux) so that a name is created, removed or read in exactly that
 * directory. What stays open (cp runs by path) is listed in the docs.
 */
import { constants, existsSync } from 'node:fs';
import { lstat, open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { PathEscapeError } from './master/errors.js';

/** Linux's MAXSYMLINKS: more links than this in one walk is a loop. */
const MAX_LINKS = 40;
const PROC_FD = '/proc/self/fd';
/** Whether an open directory can be named by its descriptor (Linux). */
const CAN_PIN = existsSync(PROC_FD);

export interface ResolveOptions {
  /**
   * Follow a symlink in the last component (the default). Off for operations that act on the link
   * itself (unlink, `rm -rf`, `cp -P`), which may then remove or copy a link that points outside.
   */
  readonly followLast?: boolean;
}

/** Test seam: runs after a check and before its path is used; tests swap a directory for a link here. */
export const confinementHooks: { afterCheck?: (physicalPath: string) => void | Promise<void> } = {};

export function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function components(path: string): string[] {
  return path.split(sep).filter((part) => part !== '' && part !== '.');
}

function errorCode(error: unknown): unknown {
  return (error as NodeJS.ErrnoException).code;
}

function tooManyLinks(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ELOOP: too many symbolic links encountered, '${path}'`), { code: 'ELOOP', path });
}

/** The base as the kernel sees it: links in the base itself are the operator's and are trusted. */
async function physicalBase(base: string): Promise<string> {
  return realpath(resolve(base));
}

/** `target`'s components after `prefix`'s, or undefined when it does not start with them. */
function after(prefix: string, target: string): string[] | undefined {
  const head = components(prefix);
  const parts = components(target);
  return head.every((part, index) => parts[index] === part) ? parts.slice(head.length) : undefined;
}

/**
 * The path `path` (absolute, or relative to `base`) names inside `base`, spelled from the base as
 * given with every symlink below it replaced by its target; missing trailing components are kept.
 * Throws PathEscapeError naming `path` when the walk leaves the base.
 */
export async function resolveInside(base: string, path: string, options: ResolveOptions = {}): Promise<string> {
  const followLast = options.followLast ?? true;
  const lexicalBase = resolve(base);
  // The request itself is normalised lexically, as the master's check normalises it.
  const requested = resolve(lexicalBase, path);
  const escape = () => new PathEscapeError(path, base);
  if (!isInside(requested, lexicalBase)) throw escape();
  const root = await physicalBase(base);
  const pending = components(relative(lexicalBase, requested));
  let current = root;
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift() as string;
    if (name === '..') {
      current = dirname(current);
      if (!isInside(current, root)) throw escape();
      continue;
    }
    const next = join(current, name);
    let isLink: boolean;
    try {
      isLink = (await lstat(next)).isSymbolicLink();
    } catch (error) {
      if (errorCode(error) !== 'ENOENT' && errorCode(error) !== 'ENOTDIR') throw error;
      // Nothing more exists: the rest is what would be created, and is only checked lexically.
      const rest = resolve(next, ...pending);
      if (!isInside(rest, root)) throw escape();
      return finishCheck(join(lexicalBase, relative(root, rest)));
    }
    if (!isLink || (pending.length === 0 && !followLast)) {
      current = next;
      continue;
    }
    if (++links > MAX_LINKS) throw tooManyLinks(path);
    const target = await readlink(next);
    if (isAbsolute(target)) {
      // An absolute target must start with the base, spelled physically or as given.
      const below = after(root, target) ?? after(lexicalBase, target);
      if (below === undefined) throw escape();
      pending.unshift(...below);
      current = root;
    } else {
      pending.unshift(...components(target));
    }
  }
  return finishCheck(join(lexicalBase, relative(root, current)));
}

async function finishCheck(physical: string): Promise<string> {
  await confinementHooks.afterCheck?.(physical);
  return physical;
}

/**
 * After-the-fact proof that `handle` (opened from `physical`) is a file inside the base: the path
 * resolves inside again and names the very file the descriptor holds. A link swapped in before
 * the open is caught here, even if it was swapped back since.
 */
async function verifyHandle(handle: FileHandle, base: string, physical: string): Promise<void> {
  const root = await physicalBase(base);
  const opened = await handle.stat();
  let here: string;
  try {
    here = await realpath(physical);
  } catch {
    throw new PathEscapeError(physical, base);
  }
  const now = await stat(here);
  if (!isInside(here, root) || now.dev !== opened.dev || now.ino !== opened.ino) throw new PathEscapeError(physical, base);
}

/** Opens `physical` (from resolveInside) and proves the open file is inside `base`; closes it and throws PathEscapeError otherwise. */
export async function openInside(base: string, physical: string, flags: string | number): Promise<FileHandle> {
  const handle = await open(physical, flags);
  try {
    await verifyHandle(handle, base, physical);
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
  return handle;
}

/**
 * Runs `act` with a path standing for the directory `physical`, pinned by an open descriptor that
 * was verified inside `base`: on Linux `/proc/self/fd/N`, so `join(pinned, name)` is that very
 * directory's entry whatever is renamed meanwhile; elsewhere the verified path itself.
 */
export async function inPinnedDirectory<T>(base: string, physical: string, act: (pinned: string) => Promise<T>): Promise<T> {
  const handle = await openInside(base, physical, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return await act(CAN_PIN ? `${PROC_FD}/${handle.fd}` : physical);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** `inPinnedDirectory` for the parent of `physical`, with the last name joined on. */
export function inPinnedParent<T>(base: string, physical: string, act: (pinnedPath: string) => Promise<T>): Promise<T> {
  return inPinnedDirectory(base, dirname(physical), (pinned) => act(join(pinned, basename(physical))));
}
