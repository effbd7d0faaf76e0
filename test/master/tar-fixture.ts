/**
 * Hand-made ustar archives for the unpack tests: the hostile ones (absolute names, `..`, links out,
 * FIFOs) that no well-behaved tar tool would write.
 */
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';

export interface TarEntry {
  readonly name: string;
  readonly type?: 'file' | 'dir' | 'symlink' | 'link' | 'fifo' | 'chardev';
  readonly data?: string | Buffer;
  readonly linkname?: string;
  readonly mode?: number;
}

const TYPE_FLAGS = { file: '0', link: '1', symlink: '2', chardev: '3', dir: '5', fifo: '6' } as const;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(entry: TarEntry, size: number): Buffer {
  const block = Buffer.alloc(512);
  const type = entry.type ?? 'file';
  block.write(entry.name, 0, 100, 'utf8');
  block.write(octal(entry.mode ?? (type === 'dir' ? 0o755 : 0o644), 8), 100, 'latin1');
  block.write(octal(0, 8), 108, 'latin1');
  block.write(octal(0, 8), 116, 'latin1');
  block.write(octal(size, 12), 124, 'latin1');
  block.write(octal(1_700_000_000, 12), 136, 'latin1');
  block.write('        ', 148, 'latin1');
  block.write(TYPE_FLAGS[type], 156, 'latin1');
  block.write(entry.linkname ?? '', 157, 100, 'utf8');
  block.write('ustar\u000000', 257, 'latin1');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

export function makeTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.type === undefined || entry.type === 'file' ? Buffer.from(entry.data ?? '') : Buffer.alloc(0);
    parts.push(header(entry, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function gzip(data: Buffer): Buffer {
  return gzipSync(data);
}

export function bzip2(data: Buffer): Buffer {
  return execFileSync('/usr/bin/bzip2', ['-c'], { input: data });
}
