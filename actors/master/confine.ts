/**
 * Master-side confinement of transfer destinations and sources: with a `masterBasedir`, a path
 * is resolved against it and must stay inside it, lexically (`..`, absolute paths) and physically
 * (a symlink on the way out). The check runs before anything is created.
 */
import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { PathEscapeError } from './errors.js';

function inside(path: string, base: string): boolean {
  const rel = relative(base, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The absolute path for `path` (relative paths are taken from `base`, or the working directory
 * without one). With a base, throws PathEscapeError when the result is not inside it.
 */
export function confinePath(path: string, base: string | undefined): string {
  if (base === undefined) return resolve(path);
  const root = resolve(base);
  const target = resolve(root, path);
  if (!inside(target, root)) throw new PathEscapeError(path, root);
  return target;
}

/** The deepest existing ancestor of `path` (itself included), with symlinks resolved. */
async function realAncestor(path: string): Promise<{ real: string; rest: string }> {
  let current = path;
  for (;;) {
    try {
      const real = await realpath(current);
      return { real, rest: relative(current, path) };
    } catch (error) {
      const parent = dirname(current);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw error;
      current = parent;
    }
  }
}

/** The physical check: no symlink along the existing part of `path` leads out of `base`. */
export async function assertPhysicallyInside(path: string, base: string | undefined): Promise<void> {
  if (base === undefined) return;
  const root = await realpath(resolve(base));
  const { real, rest } = await realAncestor(path);
  if (!inside(resolve(real, rest), root)) throw new PathEscapeError(path, root);
}
