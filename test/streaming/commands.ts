import { createHash } from 'node:crypto';
import { defineCommand } from '../../codec/command.js';
import * as amp from '../../codec/types/index.js';

/** A command with a ByteStream argument: the responder answers the size and digest of what it read. */
export const Upload = defineCommand({
  name: 'Upload',
  arguments: { name: amp.Unicode, content: amp.ByteStream },
  response: { size: amp.IntegerNumber, sha256: amp.Unicode },
});

export function digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Deterministic bytes: the same length always gives the same content, without holding a source of randomness. */
export function patternBytes(length: number, seed = 0): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}
