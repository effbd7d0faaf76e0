import { Duplex } from 'node:stream';

/**
 * A Duplex that first yields bytes already read from `inner`, then whatever `inner` yields.
 *
 * A TLS socket built over a net.Socket reads from the socket's handle directly and would never see
 * bytes pushed back with `unshift`. When the peer's first TLS bytes arrived in the same read as its
 * StartTLS answer, they were parsed as AMP input already and must be replayed this way.
 */
export class PrefixedDuplex extends Duplex {
  constructor(
    private readonly inner: Duplex,
    prefix: readonly Buffer[],
  ) {
    // A TLSSocket built over this copies its allowHalfOpen: left at Duplex's default (true) it would
    // never answer the peer's close_notify, and a Twisted peer waits for it before closing.
    super({ allowHalfOpen: inner.allowHalfOpen });
    for (const chunk of prefix) this.push(chunk);
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (error) => this.destroy(error));
    inner.on('close', () => this.destroy());
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.inner.write(chunk, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inner.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inner.destroy(error ?? undefined);
    callback(error);
  }
}
