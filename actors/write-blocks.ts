/**
 * Writing a batch of blocks to a file with writev, without joining them into one buffer first.
 */
import type { FileHandle } from 'node:fs/promises';

/** The first `limit` bytes of `blocks`. */
export function cutAt(blocks: readonly Buffer[], limit: number): Buffer[] {
  const kept: Buffer[] = [];
  for (const block of blocks) {
    if (limit <= 0) break;
    kept.push(block.length <= limit ? block : block.subarray(0, limit));
    limit -= block.length;
  }
  return kept;
}

/** Writes every block, in order, with as few writev calls as the kernel allows; returns the bytes. */
export async function writeAll(handle: FileHandle, blocks: readonly Buffer[]): Promise<number> {
  const total = blocks.reduce((sum, block) => sum + block.length, 0);
  let pending = blocks.filter((block) => block.length > 0);
  let left = total;
  while (left > 0) {
    const { bytesWritten } = await handle.writev(pending);
    left -= bytesWritten;
    if (left > 0) pending = dropWritten(pending, bytesWritten);
  }
  return total;
}

/** What remains of `blocks` once their first `bytes` bytes are written (a short writev). */
function dropWritten(blocks: readonly Buffer[], bytes: number): Buffer[] {
  let index = 0;
  while (index < blocks.length && bytes >= blocks[index]!.length) bytes -= blocks[index++]!.length;
  const rest = blocks.slice(index);
  if (rest.length > 0 && bytes > 0) rest[0] = rest[0]!.subarray(bytes);
  return rest;
}
