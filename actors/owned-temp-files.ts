/**
 * Temp files that say who writes them. A name ends in `<pid>.<start time>.<random>` of the
 * process that created it, so a later process can tell a temp some live transfer is still writing
 * (its owner runs: leave it) from one a killed process left behind (remove it). Temps of other
 * programs, and ours written before names carried an owner, never match and are never touched.
 */
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from './logger.js';
import { isProcessAlive, OWN_START_TIME } from './process-identity.js';

/** A destination's name is kept in its temp's name for diagnostics, cut so the whole stays within NAME_MAX. */
const MAX_LABEL_LENGTH = 96;
const OWNER_SUFFIX = /(?:^|-)(\d+)\.(\d+)\.[0-9a-f]{8}$/;

/** `<prefix>[<label>-]<pid>.<start time>.<random>` for this process. */
export function ownedTempName(prefix: string, label = ''): string {
  const cut = label.slice(0, MAX_LABEL_LENGTH);
  return `${prefix}${cut === '' ? '' : `${cut}-`}${process.pid}.${OWN_START_TIME}.${randomBytes(4).toString('hex')}`;
}

export interface TempOwner {
  readonly pid: number;
  readonly startTime: number;
}

/** The owner recorded in `name`, or undefined if it is not one of our temps with that prefix. */
export function tempOwner(name: string, prefix: string): TempOwner | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const match = OWNER_SUFFIX.exec(name.slice(prefix.length));
  if (match === null) return undefined;
  return { pid: Number(match[1]), startTime: Number(match[2]) };
}

/**
 * Removes the temps with one of `prefixes` in `directory` (not below it) whose owner is gone; returns their
 * paths. A missing or unreadable directory has none. Each removal is logged at info.
 */
export async function removeStaleTemps(directory: string, prefixes: string | readonly string[], logger?: Logger): Promise<string[]> {
  const wanted = typeof prefixes === 'string' ? [prefixes] : prefixes;
  let names: string[];
  try {
    names = (await readdir(directory, { withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => entry.name);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const owner = wanted.map((prefix) => tempOwner(name, prefix)).find((found) => found !== undefined);
    if (owner === undefined || isProcessAlive(owner.pid, owner.startTime)) continue;
    const path = join(directory, name);
    try {
      await rm(path, { force: true });
      removed.push(path);
      logger?.info({ path, ownerPid: owner.pid }, 'removed a temp file left by a process that is gone');
    } catch (error) {
      logger?.warn({ path, code: (error as NodeJS.ErrnoException).code }, 'cannot remove a stale temp file');
    }
  }
  return removed;
}
