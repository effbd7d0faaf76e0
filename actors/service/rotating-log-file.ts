/**
 * A log file rotated by size, as Twisted's LogFile rotates twistd.log: when a write would take
 * `worker.log` past `rotateBytes`, it becomes `worker.log.1` (older ones shift up, the oldest past
 * `maxRotatedFiles` is deleted) and a fresh file is started. Writes are synchronous so the last
 * lines before an exit are never lost; a service logs little, so this costs nothing that matters.
 */
import { closeSync, existsSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

export interface RotatingLogFileOptions {
  readonly rotateBytes: number;
  readonly maxRotatedFiles: number;
}

export class RotatingLogFile {
  private fd: number;
  private size: number;

  constructor(
    readonly path: string,
    private readonly options: RotatingLogFileOptions,
  ) {
    this.fd = openSync(path, 'a', 0o644);
    this.size = fstatSync(this.fd).size;
  }

  /** pino's destination interface: one serialized line per call. */
  write(line: string): boolean {
    const bytes = Buffer.from(line, 'utf8');
    if (this.size > 0 && this.size + bytes.length > this.options.rotateBytes) this.rotate();
    writeSync(this.fd, bytes);
    this.size += bytes.length;
    return true;
  }

  close(): void {
    closeSync(this.fd);
  }

  private rotate(): void {
    closeSync(this.fd);
    const keep = this.options.maxRotatedFiles;
    rmSync(`${this.path}.${keep}`, { force: true });
    for (let index = keep - 1; index >= 1; index--) {
      if (existsSync(`${this.path}.${index}`)) renameSync(`${this.path}.${index}`, `${this.path}.${index + 1}`);
    }
    if (keep >= 1) renameSync(this.path, `${this.path}.1`);
    else rmSync(this.path, { force: true });
    this.fd = openSync(this.path, 'a', 0o644);
    this.size = 0;
  }
}
