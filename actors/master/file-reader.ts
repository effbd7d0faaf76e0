/**
 * The master's end of a download (docs/master-worker-protocol.md §2.3): `read(maxLength)` hands out the next bytes of the
 * source file, an empty block meaning end of file, and `close` ends it. Reads are serialised, so a
 * worker that pipelines several (the transfer window) gets consecutive blocks in request order.
 *
 * Reads that arrive while the file is busy are gathered and served together: one file read for the
 * whole batch, cut into the blocks asked for, and one machine event and one progress event for it.
 * Nothing is read ahead of a request: a batch holds only reads the worker has made, read at the
 * moment they are served, so a file that changes or shrinks meanwhile is seen exactly as by reads
 * made one at a time (no stale bytes).
 */
import type { FileHandle } from 'node:fs/promises';
import { Subject, type Observable } from 'rxjs';
import { createActor, type Actor } from 'xstate';
import { fileTransferMachine, type FileTransferEvent } from '../../machines/file-transfer.js';
import type { Inspector } from '../amp-connection.js';
import { defaultLogger, type Logger } from '../logger.js';
import { assertPhysicallyInside, confinePath, openConfined } from './confine.js';
import { FileReaderImpl } from './connection-api.js';
import { PathEscapeError, TransferSourceError, TransferStateError } from './errors.js';
import type { TransferProgress } from './file-writer.js';
import { inspectorFromEnvironment } from '../pino-inspector.js';
import type { OrdersOwnCalls } from './proxies.js';
import { SerialQueue } from './serial-queue.js';
import { ReusableBuffers } from '../../codec/reusable-buffers.js';
import { leaseView, releaseView } from '../../codec/slab-leases.js';

const EMPTY = Buffer.alloc(0);
/** A batch of 16 reads of 60 KiB (the default window) fits; a larger batch gets a buffer of its own. */
const READ_BUFFER_BYTES = 1024 * 1024;
/** Batches whose blocks may still be on their way out: the socket writes them soon after. */
const KEPT_READ_BUFFERS = 4;
/** Smaller batches get a buffer of their own (see leasedBuffer). */
const SMALLEST_LEASED_BATCH = 32 * 1024;

export interface FileReaderOptions {
  readonly source: string;
  /** Confine the source to this directory (relative sources are taken from it). */
  readonly masterBasedir?: string;
  readonly inspect?: Inspector;
  readonly logger?: Logger;
}

type Job<T> = () => Promise<T>;

/** A read waiting in a batch. */
interface PendingRead {
  readonly length: number;
  /** From the worker, through the connection, which releases the block once it is sent. */
  readonly leased: boolean;
  resolve(block: Buffer): void;
  reject(error: unknown): void;
}

export class FileReader extends FileReaderImpl implements OrdersOwnCalls {
  /** Calls are queued in arrival order here (see proxies.ts): the proxy passes them straight on. */
  readonly ordersOwnCalls = true;
  readonly source: string;
  readonly actor: Actor<typeof fileTransferMachine>;
  private readonly masterBasedir: string | undefined;
  private readonly logger: Logger;
  private readonly progress = new Subject<TransferProgress>();
  private handle: FileHandle | undefined;
  private opening: Promise<FileHandle> | undefined;
  private size: number | undefined;
  private offset = 0;
  private readonly queue = new SerialQueue();
  /** Reads waiting for the next file read, while no other call has been queued after them. */
  private gathering: PendingRead[] | undefined;
  /** What the worker's reads are read into: about one transfer window's worth per buffer. */
  private readonly buffers = new ReusableBuffers(READ_BUFFER_BYTES, KEPT_READ_BUFFERS, true);

  /** Throws PathEscapeError at once if the source leaves `masterBasedir`. */
  constructor(options: FileReaderOptions) {
    super();
    this.source = confinePath(options.source, options.masterBasedir);
    this.masterBasedir = options.masterBasedir;
    this.logger = (options.logger ?? defaultLogger).child({ component: 'FileReader', source: this.source });
    const machine = fileTransferMachine.provide({ actions: { endProgress: () => this.progress.complete() } });
    this.actor = createActor(machine, { inspect: options.inspect ?? inspectorFromEnvironment() }).start();
  }

  get progress$(): Observable<TransferProgress> {
    return this.progress.asObservable();
  }

  get bytesRead(): number {
    return this.offset;
  }

  /** The source size, once opened. */
  get total(): number | undefined {
    return this.size;
  }

  get state(): string {
    return String(this.actor.getSnapshot().value);
  }

  /**
   * Opens the source now (downloads do, so a missing file fails before the worker is asked).
   * Resolves with its size; rejects with TransferSourceError.
   */
  async open(): Promise<number> {
    await this.ensureOpen();
    return this.size as number;
  }

  read(maxLength: number): Promise<Buffer> {
    return this.enqueueRead(maxLength, false);
  }

  private enqueueRead(maxLength: number, leased: boolean): Promise<Buffer> {
    const length = Math.max(0, Math.floor(maxLength));
    return new Promise<Buffer>((resolve, reject) => {
      const read: PendingRead = { length, leased, resolve, reject };
      if (this.gathering !== undefined) {
        this.gathering.push(read);
        return;
      }
      const batch = [read];
      this.serial(async () => {
        // From here on, reads that arrive form the next batch.
        if (this.gathering === batch) this.gathering = undefined;
        await this.readBatch(batch);
      }).catch((error: unknown) => {
        for (const pending of batch) pending.reject(error);
      });
      this.gathering = batch;
    });
  }

  /** Serves `batch` in order from one file read at the current offset. */
  private async readBatch(batch: readonly PendingRead[]): Promise<void> {
    // Past the end, reads keep answering empty until close.
    if (this.actor.getSnapshot().matches('drained')) {
      for (const read of batch) read.resolve(EMPTY);
      return;
    }
    this.require('read', { type: 'block', bytes: 0 });
    const handle = await this.guard(() => this.ensureOpen());
    const wanted = batch.reduce((sum, read) => sum + read.length, 0);
    const leased = batch.every((read) => read.leased);
    const buffer = leased ? this.leasedBuffer(wanted) : Buffer.allocUnsafe(wanted);
    let filled = 0;
    try {
      await this.guard(async () => {
        while (filled < wanted) {
          const { bytesRead } = await handle.read(buffer, filled, wanted - filled, this.offset + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
      });
    } catch (error) {
      if (leased) releaseView(buffer);
      throw error;
    }
    // Cut as reads one at a time would have: full blocks, a short one at the end of the file,
    // then empty blocks, the first of which is the end of file.
    let at = 0;
    let blocks = 0;
    let eof = false;
    const served: Buffer[] = [];
    for (const read of batch) {
      const block = eof ? EMPTY : buffer.subarray(at, Math.min(filled, at + read.length));
      at += block.length;
      if (leased && block.length > 0) leaseView(block);
      served.push(block);
      if (eof) continue;
      if (block.length === 0 && read.length > 0) eof = true;
      else blocks += 1;
    }
    if (blocks > 0) {
      this.offset += filled;
      this.actor.send({ type: 'block', bytes: filled, blocks });
      this.progress.next(this.size === undefined ? { bytes: this.offset } : { bytes: this.offset, total: this.size });
    }
    // The blocks carry leases of their own now; the buffer's covered only the file read.
    if (leased) releaseView(buffer);
    if (eof) this.actor.send({ type: 'eof' });
    batch.forEach((read, index) => read.resolve(served[index]!));
  }

  /**
   * A buffer for a batch of the worker's reads, itself leased as a whole so that it is not handed
   * out again while it is being filled (the blocks cut from it get leases of their own after). A
   * batch that does not fit, or reads too small for a whole buffer each (a Buildbot worker's 16 KiB
   * over msgpack, whose connection never releases a block), gets a buffer of its own.
   */
  private leasedBuffer(wanted: number): Buffer {
    const kept = wanted >= SMALLEST_LEASED_BATCH && wanted <= READ_BUFFER_BYTES ? this.buffers.take() : undefined;
    if (kept === undefined) return Buffer.allocUnsafe(wanted);
    leaseView(kept);
    return kept;
  }

  close(): Promise<void> {
    return this.serial(async () => {
      if (this.actor.getSnapshot().matches('closed')) return;
      this.require('close', { type: 'close' });
      this.actor.send({ type: 'close' });
      await this.releaseHandle();
      this.actor.send({ type: 'closed' });
    });
  }

  /** Stops serving reads (the command ended without a close). */
  cancel(): Promise<void> {
    return this.serial(async () => {
      this.sendIfAllowed({ type: 'cancel' });
      await this.releaseHandle();
    });
  }

  /**
   * The worker's read, through its connection: the block is leased (codec/slab-leases.ts), and the
   * connection releases it once the socket has written it, after which its buffer is read into
   * again. A connection that never releases it (msgpack, in memory) only keeps that buffer from reuse.
   */
  remoteRead(maxLength: number): Promise<Buffer> {
    return this.enqueueRead(maxLength, true);
  }

  remoteClose(): Promise<void> {
    return this.close();
  }

  private serial<T>(job: Job<T>): Promise<T> {
    // Any call queued after a batch closes it: a later read must not overtake this call.
    this.gathering = undefined;
    return this.queue.run(job);
  }

  private require(operation: string, event: FileTransferEvent): void {
    if (!this.actor.getSnapshot().can(event)) throw new TransferStateError(operation, this.state);
  }

  /** Sends `event` if the machine takes it now. */
  private sendIfAllowed(event: FileTransferEvent): void {
    if (this.actor.getSnapshot().can(event)) this.actor.send(event);
  }

  private async guard<T>(work: Job<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      this.sendIfAllowed({ type: 'fail', reason: (error as Error).message });
      this.logger.warn({ err: error }, 'download failed');
      await this.releaseHandle();
      throw error;
    }
  }

  private ensureOpen(): Promise<FileHandle> {
    if (this.handle !== undefined) return Promise.resolve(this.handle);
    this.opening ??= (async () => {
      try {
        await assertPhysicallyInside(this.source, this.masterBasedir);
      } catch (error) {
        this.opening = undefined;
        throw error;
      }
      try {
        // Proved inside once open too: a link swapped in after the check is caught here.
        const handle = await openConfined(this.source, this.masterBasedir, 'r');
        const stats = await handle.stat();
        if (stats.isDirectory()) {
          await handle.close();
          throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${this.source}'`), { code: 'EISDIR' });
        }
        this.size = stats.size;
        this.handle = handle;
        return handle;
      } catch (error) {
        this.opening = undefined;
        if (error instanceof PathEscapeError) throw error;
        throw new TransferSourceError(this.source, { cause: error });
      }
    })();
    return this.opening;
  }

  private async releaseHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    this.opening = undefined;
    await handle?.close().catch(() => undefined);
  }
}
