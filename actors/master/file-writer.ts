/**
 * The master's end of an upload (docs/master-worker-protocol.md §2.2): blocks go to a temp file `buildbot-transfer-*` beside
 * the destination, which close syncs, chmods and renames onto the destination; directory uploads
 * unpack the temp tar into the destination instead. A transfer that is cancelled, fails, or whose
 * command fails leaves nothing behind: the temp file is purged, and `purge` also removes a
 * destination that was already renamed into place.
 *
 * Calls are serialised: the worker may pipeline several writes (the transfer window), and the file
 * sees them strictly in arrival order. Writes that arrive while the file is busy are gathered and
 * written together by one writev, and the machine hears them as one batch: a syscall and a machine
 * event per batch rather than per block.
 */
import { chmod, mkdir, open, rename, rm, utimes, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Subject, type Observable } from 'rxjs';
import { createActor, type Actor } from 'xstate';
import { fileTransferMachine, type FileTransferEvent } from '../../machines/file-transfer.js';
import type { Inspector } from '../amp-connection.js';
import { defaultLogger, type Logger } from '../logger.js';
import { ownedTempName } from '../owned-temp-files.js';
import { assertPhysicallyInside, confinePath } from './confine.js';
import { FileWriterImpl } from './connection-api.js';
import { TransferStateError } from './errors.js';
import { unpackArchive } from './unpack.js';
import { inspectorFromEnvironment } from '../pino-inspector.js';
import type { OrdersOwnCalls } from './proxies.js';
import { SerialQueue } from './serial-queue.js';
import { cutAt, writeAll } from '../write-blocks.js';
import { FlushBehind } from '../flush-behind.js';
import { syncDirectory } from '../sync-directory.js';

export const TEMP_PREFIX = 'buildbot-transfer-';

export interface TransferProgress {
  /** Bytes moved so far. */
  readonly bytes: number;
  /** Total bytes, when known (a download's file size). */
  readonly total?: number;
}

export interface FileWriterOptions {
  /** The file to create (or, with `directory`, the directory to unpack into). */
  readonly destination: string;
  /** Data past this many bytes is cut off (the master's own limit, independent of the worker's). */
  readonly maxsize?: number | null;
  /** chmod applied to the destination file on close (not used by directory uploads). */
  readonly mode?: number | null;
  /** A directory upload: `unpack` extracts the received tar into `destination`. */
  readonly directory?: boolean;
  /** Confine the destination to this directory (relative destinations are taken from it). */
  readonly masterBasedir?: string;
  readonly inspect?: Inspector;
  readonly logger?: Logger;
}

type Job<T> = () => Promise<T>;

export class FileWriter extends FileWriterImpl implements OrdersOwnCalls {
  /** Calls are queued in arrival order here (see proxies.ts): the proxy passes them straight on. */
  readonly ordersOwnCalls = true;
  /** The absolute destination. */
  readonly destination: string;
  readonly directory: boolean;
  readonly actor: Actor<typeof fileTransferMachine>;
  private readonly maxsize: number | null;
  private readonly mode: number | null;
  /** The confinement directory, if any. */
  readonly masterBasedir: string | undefined;
  private readonly logger: Logger;
  private readonly progress = new Subject<TransferProgress>();
  private handle: FileHandle | undefined;
  private flushBehind: FlushBehind | undefined;
  private tempPath: string | undefined;
  private pendingTimes: readonly [number, number] | undefined;
  private readonly queue = new SerialQueue();
  private written = 0;
  /** Blocks waiting for the next writev, while no other call has been queued after them. */
  private gathering: Buffer[] | undefined;
  /** Settles when the gathering batch has been written. */
  private batchDone: Promise<void> = Promise.resolve();

  /** Throws PathEscapeError at once if the destination leaves `masterBasedir`. */
  constructor(options: FileWriterOptions) {
    super();
    this.destination = confinePath(options.destination, options.masterBasedir);
    this.directory = options.directory ?? false;
    this.maxsize = options.maxsize ?? null;
    this.mode = options.mode ?? null;
    this.masterBasedir = options.masterBasedir;
    this.logger = (options.logger ?? defaultLogger).child({ component: 'FileWriter', destination: this.destination });
    const machine = fileTransferMachine.provide({
      actions: {
        endProgress: ({ event }) => {
          // A directory upload that is closed rather than unpacked keeps its tar (and its progress) until cancelled.
          if (this.directory && event.type === 'closed') return;
          this.progress.complete();
        },
      },
    });
    this.actor = createActor(machine, { inspect: options.inspect ?? inspectorFromEnvironment() }).start();
  }

  /** One event per batch of blocks written; completes (never errors) when the transfer ends, whichever way. */
  get progress$(): Observable<TransferProgress> {
    return this.progress.asObservable();
  }

  /** Bytes kept (after the maxsize cut). */
  get bytesWritten(): number {
    return this.written;
  }

  /** transferring, closing, unpacking, closed, unpacked, failed, cancelled or purged. */
  get state(): string {
    return String(this.actor.getSnapshot().value);
  }

  /**
   * The temp file, while one exists (for tests and diagnostics).
   * @internal
   */
  get temporaryPath(): string | undefined {
    return this.tempPath;
  }

  /** Resolves once the block is in the file (with the blocks gathered into the same writev). */
  write(data: Uint8Array): Promise<void> {
    const block = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (this.gathering !== undefined) {
      this.gathering.push(block);
      return this.batchDone;
    }
    const blocks = [block];
    this.batchDone = this.serial(async () => {
      // From here on, blocks that arrive form the next batch.
      if (this.gathering === blocks) this.gathering = undefined;
      await this.writeBatch(blocks);
    });
    this.gathering = blocks;
    return this.batchDone;
  }

  private async writeBatch(blocks: Buffer[]): Promise<void> {
    const arrived = blocks.reduce((sum, block) => sum + block.length, 0);
    this.require('write', { type: 'block', bytes: arrived, blocks: blocks.length });
    await this.guard(async () => {
      const handle = await this.ensureOpen();
      const kept = this.maxsize === null ? blocks : cutAt(blocks, Math.max(0, this.maxsize - this.written));
      const bytes = await writeAll(handle, kept);
      this.flushBehind?.wrote(bytes);
      this.written += bytes;
      this.actor.send({ type: 'block', bytes, blocks: blocks.length });
      this.progress.next({ bytes: this.written });
    });
  }

  /** Sets the destination's times; before close they are kept and applied when it is renamed. */
  utime(accessedModified: readonly [number, number]): Promise<void> {
    return this.serial(async () => {
      this.require('utime', { type: 'utime' });
      if (!this.actor.getSnapshot().matches('closed')) {
        this.pendingTimes = accessedModified;
        return;
      }
      await this.guard(() => utimes(this.destination, accessedModified[0], accessedModified[1]));
    });
  }

  close(): Promise<void> {
    return this.serial(async () => {
      if (this.actor.getSnapshot().matches('closed')) return;
      this.require('close', { type: 'close' });
      this.actor.send({ type: 'close' });
      await this.guard(async () => {
        const handle = await this.ensureOpen();
        // Synced before the rename: after a power loss the name must not point at unwritten blocks.
        if (!this.directory) await (this.flushBehind ?? new FlushBehind(handle)).sync();
        await handle.close();
        this.handle = undefined;
        this.flushBehind = undefined;
        // A directory upload that is closed rather than unpacked keeps its tar until cancelled.
        if (this.directory) return;
        // Mode and times go on the temp: the file appears under its name finished, or not at all.
        const tempPath = this.tempPath as string;
        if (this.mode !== null) await chmod(tempPath, this.mode);
        if (this.pendingTimes !== undefined) await utimes(tempPath, this.pendingTimes[0], this.pendingTimes[1]);
        await rename(tempPath, this.destination);
        this.tempPath = undefined;
        this.destinationPlaced = true;
        await syncDirectory(dirname(this.destination));
      });
      this.actor.send({ type: 'closed' });
    });
  }

  /** Directory uploads: finish the tar, check and extract it into the destination, delete it. */
  unpack(): Promise<void> {
    return this.serial(async () => {
      if (!this.directory) throw new TransferStateError('unpack', 'a file upload (unpack is for directory uploads)');
      this.require('unpack', { type: 'unpack' });
      this.actor.send({ type: 'unpack' });
      await this.guard(async () => {
        const handle = await this.ensureOpen();
        await handle.close();
        this.handle = undefined;
        await unpackArchive(this.tempPath as string, this.destination);
        await this.removeTemp();
      });
      this.actor.send({ type: 'unpacked' });
    });
  }

  /** The step's cancel: if never closed, the temp file is deleted. Safe to call at any time. */
  cancel(): Promise<void> {
    return this.serial(async () => {
      this.sendIfAllowed({ type: 'cancel' });
      await this.discardTemp();
    });
  }

  /** The command failed: drop the temp file and a destination file already renamed into place. */
  purge(): Promise<void> {
    return this.serial(async () => {
      // Never closed: purging is cancelling.
      if (!this.sendIfAllowed({ type: 'purge' })) this.sendIfAllowed({ type: 'cancel' });
      // A closed upload whose command then failed: its file is already in place.
      if (this.destinationPlaced) await rm(this.destination, { force: true });
      this.destinationPlaced = false;
      await this.discardTemp();
    });
  }

  // FileWriterImpl: what the worker's calls reach through the connection's proxy.
  remoteWrite(data: Buffer): Promise<void> {
    return this.write(data);
  }

  remoteUtime(accessedModified: readonly [number, number]): Promise<void> {
    return this.utime(accessedModified);
  }

  remoteUnpack(): Promise<void> {
    return this.unpack();
  }

  remoteClose(): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------- internals

  /** The temp file has been renamed onto the destination. */
  private destinationPlaced = false;

  private serial<T>(job: Job<T>): Promise<T> {
    // Any call queued after a batch closes it: a later write must not overtake this call.
    this.gathering = undefined;
    return this.queue.run(job);
  }

  private require(operation: string, event: FileTransferEvent): void {
    if (!this.actor.getSnapshot().can(event)) throw new TransferStateError(operation, this.state);
  }

  /** Sends `event` if the machine takes it now; says whether it did. */
  private sendIfAllowed(event: FileTransferEvent): boolean {
    if (!this.actor.getSnapshot().can(event)) return false;
    this.actor.send(event);
    return true;
  }

  /** Any I/O failure fails the transfer and removes the temp file before the error goes on. */
  private async guard<T>(work: Job<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      this.sendIfAllowed({ type: 'fail', reason: (error as Error).message });
      this.logger.warn({ err: error }, 'upload failed');
      await this.discardTemp();
      throw error;
    }
  }

  private async ensureOpen(): Promise<FileHandle> {
    if (this.handle !== undefined) return this.handle;
    // Beside the destination (for a directory, beside its root): same filesystem, so rename is atomic.
    const parent = dirname(this.destination);
    await assertPhysicallyInside(this.destination, this.masterBasedir);
    await mkdir(parent, { recursive: true });
    // The name carries this process's identity: the next transfer into this directory removes it if we are killed.
    const name = ownedTempName(TEMP_PREFIX, this.directory ? basename(this.destination) : '');
    const path = join(parent, name);
    this.handle = await open(path, 'wx', 0o600);
    // A directory upload's tar is unpacked, never renamed into place: it is not synced.
    if (!this.directory) this.flushBehind = new FlushBehind(this.handle);
    this.tempPath = path;
    // Checked again once it exists (docs/master-worker-protocol.md §3.1); an escape discards it.
    await assertPhysicallyInside(path, this.masterBasedir);
    return this.handle;
  }

  private async discardTemp(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    this.flushBehind = undefined;
    await handle?.close().catch(() => undefined);
    await this.removeTemp();
  }

  private async removeTemp(): Promise<void> {
    const path = this.tempPath;
    this.tempPath = undefined;
    if (path !== undefined) await rm(path, { force: true });
  }
}

