/**
 * The worker's startup sweep: the temp files a killed worker left (a download's beside its
 * destination, a directory upload's tar in the system temp directory, the process group list's)
 * are removed once their owner is gone. The basedir is walked without following symlinks and
 * within bounds, so a huge build tree costs a bounded startup (docs/master-worker-protocol.md §3.6).
 */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { removeStaleTemps } from '../owned-temp-files.js';
import { DOWNLOAD_TEMP_PREFIX } from './commands/download-file.js';
import { UPLOAD_ARCHIVE_PREFIX } from './commands/upload-directory.js';
import { PROCESS_GROUPS_TEMP_PREFIX } from './process-group-ledger.js';

export interface SweepLimits {
  /** Levels below the basedir (builder dir, workdir, the download's own subdirectories…). */
  readonly maxDepth?: number;
  /** Directories looked at, at most. */
  readonly maxDirectories?: number;
}

export const DEFAULT_SWEEP_LIMITS = { maxDepth: 8, maxDirectories: 20_000 } as const;

export interface SweepResult {
  readonly removed: readonly string[];
  /** The walk stopped at `maxDirectories`. */
  readonly truncated: boolean;
}

/** Removes stale temps of ours under `basedir` and in the system temp directory. */
export async function sweepStaleTempFiles(basedir: string, logger?: Logger, limits: SweepLimits = {}): Promise<SweepResult> {
  const maxDepth = limits.maxDepth ?? DEFAULT_SWEEP_LIMITS.maxDepth;
  const maxDirectories = limits.maxDirectories ?? DEFAULT_SWEEP_LIMITS.maxDirectories;
  const removed: string[] = [];
  const queue: Array<{ path: string; depth: number }> = [{ path: basedir, depth: 0 }];
  let visited = 0;
  while (queue.length > 0 && visited < maxDirectories) {
    const { path, depth } = queue.shift() as { path: string; depth: number };
    visited += 1;
    removed.push(...(await removeStaleTemps(path, [DOWNLOAD_TEMP_PREFIX, PROCESS_GROUPS_TEMP_PREFIX], logger)));
    if (depth >= maxDepth) continue;
    let entries: Dirent[];
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch {
      continue;
    }
    // Dirent.isDirectory() is false for a symlink to a directory: the walk stays inside the basedir.
    for (const entry of entries) if (entry.isDirectory()) queue.push({ path: join(path, entry.name), depth: depth + 1 });
  }
  const truncated = queue.length > 0;
  if (truncated) logger?.warn({ basedir, maxDirectories }, 'stopped looking for stale temp files: the basedir has too many directories');
  removed.push(...(await removeStaleTemps(tmpdir(), UPLOAD_ARCHIVE_PREFIX, logger)));
  return { removed, truncated };
}
