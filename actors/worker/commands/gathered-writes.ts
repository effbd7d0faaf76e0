/**
 * Writes blocks in arrival order with one write in flight at a time; the blocks that arrive while
 * it runs go out together in the next one (a writev). A download keeps receiving while the disk
 * works, and pays one thread-pool round trip per batch rather than per block.
 */
export class GatheredWrites {
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  private writing: Promise<void> | undefined;
  private failure: { readonly error: unknown } | undefined;

  /** `limit`: bytes that may wait for the disk before `push` waits too (memory stays bounded). */
  constructor(
    private readonly write: (blocks: Buffer[]) => Promise<void>,
    private readonly limit = 1024 * 1024,
  ) {}

  /** Queues a block; throws the error of an earlier write. */
  async push(block: Buffer): Promise<void> {
    this.throwIfFailed();
    this.waiting.push(block);
    this.waitingBytes += block.length;
    this.writing ??= this.drain();
    if (this.waitingBytes >= this.limit) await this.writing;
    this.throwIfFailed();
  }

  /** Resolves once every queued block is written; throws the error of any write. */
  async flush(): Promise<void> {
    await this.settled();
    this.throwIfFailed();
  }

  /** Resolves once no write is in flight, whatever became of it (before discarding the file). */
  async settled(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const blocks = this.waiting;
        this.waiting = [];
        this.waitingBytes = 0;
        await this.write(blocks);
      }
    } catch (error) {
      this.failure = { error };
      this.waiting = [];
      this.waitingBytes = 0;
    } finally {
      this.writing = undefined;
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }
}
