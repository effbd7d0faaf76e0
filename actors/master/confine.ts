/**
 * Master-side confinement of transfer destinations and sources: with a `masterBasedir`, a path
 * is resolved against it and must stay inside it, lexically (`..`, absolute paths) at once and
 * physically (symlinks, checked by actors/confined-path.ts) before anything is opened or made
 * (docs/master-worker-protocol.md §3.1).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isInside, openInside, resolveInside } from '../confined-path.js';
import { PathEscapeError } from './errors.js';

/**
 * The absolute path for `path` (relative paths are taken from `base`, or the working directory
 * without one). With a base, throws PathEscapeError when the result is not inside it.
 */
export function confinePath(path: string, base: string | undefined): string {
  if (base === undefined) return resolve(path);
  const root = resolve(base);
  const target = resolve(root, path);
  if (!isInside(target, root)) throw new PathEscapeError(path, root);
  return target;
}

/**
 * The physical check: walking `path` from `base`, no symlink (not even a dangling one, through
 * which a file would be created outside) leads out. Throws PathEscapeError.
 */
export async function assertPhysicallyInside(path: string, base: string | undefined): Promise<void> {
  if (base === undefined) return;
  await resolveInside(base, path);
}

/** Opens `path`; with a base, only after the physical check, and the open file is proved inside. */
export async function openConfined(path: string, base: string | undefined, flags: string | number): Promise<FileHandle> {
  if (base === undefined) return open(path, flags);
  return openInside(base, await resolveInside(base, path), flags);
}
