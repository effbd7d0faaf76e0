import type { ReceivedByteStream } from '../../codec/types/byte-stream.js';

type State = 'open' | 'ended' | 'failed' | 'abandoned';

/**
 * One stream being received: the chunks StreamWrite brought that the consumer has not read yet.
 * A chunk that takes the buffer past the high-water mark is answered only once the consumer has
 * read below it again; since the sender keeps only a few writes unanswered, what is held stays
 * small however large the value (docs/amp-protocol.md §3.7).
 */
export class IncomingByteStream implements ReceivedByteStream {
  private readonly chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private state: State = 'open';
  private failure: Error | undefined;
  private wakeReader: (() => void) | undefined;
  private creditWaiters: (() => void)[] = [];

  constructor(
    readonly streamId: number,
    private readonly highWaterMark: number,
  ) {}

  /** Whether the sender may still write to it (it has not been closed, failed or taken). */
  get isOpen(): boolean {
    return this.state === 'open' || this.state === 'abandoned';
  }

  /** A chunk arrived. Resolves when there is room for more: the answer to StreamWrite waits for it. */
  push(chunk: Buffer): void | Promise<void> {
    if (this.state !== 'open') return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    this.wake();
    if (this.bufferedBytes <= this.highWaterMark) return;
    return new Promise((resolve) => this.creditWaiters.push(resolve));
  }

  /** The sender closed it: the consumer reads what is left, then the end. */
  end(): void {
    if (this.state === 'open') this.state = 'ended';
    this.settle();
  }

  /** The sender gave up, or the connection ended: the consumer gets `error` at its next read. */
  fail(error: Error): void {
    if (this.state !== 'open') return;
    this.state = 'failed';
    this.failure = error;
    this.dropBuffered();
    this.settle();
  }

  /** Everything received so far, and the stream ends: the command naming it came after its last chunk (trial's order). */
  takeAll(): Buffer[] {
    const chunks = this.chunks.splice(0);
    this.bufferedBytes = 0;
    this.end();
    return chunks;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    try {
      for (;;) {
        const chunk = this.chunks.shift();
        if (chunk !== undefined) {
          this.bufferedBytes -= chunk.length;
          if (this.bufferedBytes <= this.highWaterMark) this.releaseCredit();
          yield chunk;
          continue;
        }
        if (this.state === 'failed') throw this.failure!;
        if (this.state !== 'open') return;
        await new Promise<void>((resolve) => (this.wakeReader = resolve));
      }
    } finally {
      // The consumer stopped early: what still comes is dropped, and answered at once.
      if (this.state === 'open') {
        this.state = 'abandoned';
        this.dropBuffered();
        this.releaseCredit();
      }
    }
  }

  async bytes(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async text(): Promise<string> {
    return (await this.bytes()).toString('utf8');
  }

  private settle(): void {
    this.wake();
    this.releaseCredit();
  }

  private dropBuffered(): void {
    this.chunks.length = 0;
    this.bufferedBytes = 0;
  }

  private wake(): void {
    const wake = this.wakeReader;
    this.wakeReader = undefined;
    wake?.();
  }

  private releaseCredit(): void {
    const waiters = this.creditWaiters;
    if (waiters.length === 0) return;
    this.creditWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
