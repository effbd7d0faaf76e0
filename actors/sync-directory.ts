/**
 * Makes a rename durable. A file renamed into place survives a power loss only once its new
 * directory entry is on disk too, and neither rename(2) nor POSIX does that for the caller: the
 * directory itself must be synced. Without it, the name could point back at the old file (or at
 * nothing) after a crash, although the new content was synced.
 */
import { open } from 'node:fs/promises';

/** Filesystems that cannot sync a directory say so with these; the rename itself has happened. */
const UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR']);

export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } catch (error) {
    if (!UNSUPPORTED.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    await handle.close();
  }
}
