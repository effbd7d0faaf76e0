import { Duplex } from 'node:stream';

/**
 * Two connected in-memory Duplex ends (Node 20 has no `duplexPair`). Writes on one end are read on
 * the other; a write only completes when the reader has taken it, so backpressure is real.
 */
export function createMemoryPair(): [Duplex, Duplex] {
  const a = new MemoryEnd();
  const b = new MemoryEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class MemoryEnd extends Duplex {
  peer!: MemoryEnd;
  private pendingWrite: (() => void) | undefined;

  override _read(): void {
    const callback = this.peer.pendingWrite;
    this.peer.pendingWrite = undefined;
    callback?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.peer.destroyed) {
      callback(new Error('peer closed'));
      return;
    }
    if (this.peer.push(chunk)) callback();
    else this.pendingWrite = () => callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.peer.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.destroy();
    callback(error);
  }
}
