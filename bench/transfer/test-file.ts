/** The file bench/transfer moves: 1 MiB of random bytes repeated (cheap to write, not sparse, not compressible). */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { MiB } from './environment.js';

/** Writes `bytes` of a 1 MiB random block repeated; returns its SHA-256. */
export function writeTestFile(path: string, bytes: number): string {
  const block = randomBytes(MiB);
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < bytes; ) {
      const piece = block.subarray(0, Math.min(MiB, bytes - written));
      for (let offset = 0; offset < piece.length; ) offset += writeSync(fd, piece, offset);
      hash.update(piece);
      written += piece.length;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

export async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: MiB }), hash);
  return hash.digest('hex');
}
