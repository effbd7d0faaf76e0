import { Duplex, type Readable, type Writable } from 'node:stream';

/** Bytes held for one write before the writer is made to wait for them to go out. */
const HIGH_WATER = 64 * 1024;

/**
 * The two AMP pipes of a worker (child fd 4 to read, child fd 3 to write) as one Duplex for
 * AmpConnection. Writes made during one turn of the event loop go out as a single write at
 * `setImmediate`: the answers to a Run's result commands and the next Run then reach the worker
 * together, as Twisted's reactor sends them, instead of waking a workertrial process (which reads
 * one byte at a time, flushing after each) twice per test. Ending it closes fd 3 only; it closes
 * completely when the worker's fd 4 ends too.
 */
export class ChildPipes extends Duplex {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private blocked: Array<() => void> = [];
  private draining = false;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
  ) {
    super({ allowHalfOpen: true });
    input.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) input.pause();
    });
    input.once('end', () => this.push(null));
    input.on('error', (error) => this.destroy(error));
    output.on('error', (error) => this.destroy(error));
  }

  override _read(): void {
    this.input.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    if (this.pendingBytes < HIGH_WATER && !this.draining) callback();
    else this.blocked.push(() => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.flush();
    this.output.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.input.destroy();
    this.output.destroy();
    callback(error);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.pending.length === 0 || this.output.destroyed) return;
    const bytes = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    const release = () => {
      this.draining = false;
      const waiting = this.blocked;
      this.blocked = [];
      for (const callback of waiting) callback();
    };
    if (this.output.write(bytes)) release();
    else {
      this.draining = true;
      this.output.once('drain', release);
    }
  };
}
