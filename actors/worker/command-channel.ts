/**
 * The wire side of one running worker command: its updates, transfer calls and `Complete`, as AMP
 * calls keyed by command id (docs/master-worker-protocol.md §6).
 *
 * Transfers keep up to `transferWindow` blocks in flight: `writeBlock` resolves as soon as there is
 * room in the window rather than when its block is acknowledged, and downloads ask for the next
 * blocks before the command needs them. A window of 1 is Buildbot's stop-and-wait exactly. AMP
 * keeps the boxes of one connection in order, so the master sees the blocks in file order.
 */
import type { Logger } from 'pino';
import type { ArgumentsOf, Command, ResponseOf } from '../../codec/command.js';
import { msgpackEncodedSize } from '../../codec/msgpack-size.js';
import type { AmpConnection } from '../amp-connection.js';
import type { CallOptions } from '../amp/dispatcher.js';
import { leaseView, releaseView } from '../../codec/slab-leases.js';
import {
  Complete,
  DownloadClose,
  DownloadRead,
  MAX_BLOCK_SIZE,
  Update,
  UploadClose,
  UploadUnpack,
  UploadUtime,
  UploadWrite,
} from '../../codec/protocols/worker-commands.js';
import type { CommandChannel, UpdateEntry } from './commands/command.js';
import { ReadOverrunError } from './commands/errors.js';

/** AMP's value limit, less the array header msgpack puts around the entries. */
const MAX_UPDATES_BYTES = 65535 - 8;
/** A failure text is for people; keep it well inside one AMP value. */
const MAX_FAILURE_LENGTH = 16 * 1024;
const EMPTY = Buffer.alloc(0);
/** A read's bytes stay in the connection's read slab until readBlock's caller has written them (codec/slab-leases.ts). */
const LEASE_READ: CallOptions = { leaseAnswer: (answer: { data: Buffer }) => leaseView(answer.data) };

export interface AmpCommandChannelOptions {
  readonly transferWindow: number;
  readonly logger: Logger;
}

interface PendingRead {
  readonly length: number;
  readonly result: Promise<Buffer | Error>;
}

export class AmpCommandChannel implements CommandChannel {
  /**
   * Blocks go out by writev as the caller's own buffers (not copied). When `writeBlock` resolves
   * fewer than `window` pieces are unacknowledged, so whatever the order of the acknowledgements,
   * every piece but the last `window - 1` has been acknowledged or precedes one that was: it was
   * written to the socket (a socket writes in order), and is no longer referenced.
   */
  get retainedBytes(): number {
    return (this.window - 1) * MAX_BLOCK_SIZE;
  }
  private readonly window: number;
  private readonly logger: Logger;
  /** Until the start answer is on the wire, what the command sends waits here (see `release`). */
  private held: Array<() => void> | undefined = [];
  private readonly released: Promise<void>;
  private resolveReleased!: () => void;
  private inflightWrites = 0;
  private writeError: Error | undefined;
  private writeWaiters: Array<() => void> = [];
  private readonly reads: PendingRead[] = [];
  private readBuffer: Buffer = EMPTY;
  /** The answer readBuffer is part of, leased until all of it is handed out. */
  private leasedRead: Buffer | undefined;
  private readEof = false;
  /** Set when an update entry could not be sent at all; reported in `Complete`. */
  private droppedUpdate: string | undefined;
  private completed = false;

  constructor(
    private readonly connection: AmpConnection,
    readonly commandId: string,
    options: AmpCommandChannelOptions,
  ) {
    this.window = Math.max(1, Math.floor(options.transferWindow));
    this.logger = options.logger;
    this.released = new Promise((resolve) => (this.resolveReleased = resolve));
  }

  /**
   * Lets the command's boxes go out. The session calls this once the `StartCommand` answer has been
   * written, so the master never sees an update for a command it has not yet been told started.
   */
  release(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    for (const send of held) send();
    this.resolveReleased();
  }

  sendUpdate(entries: readonly UpdateEntry[]): Promise<boolean> {
    if (entries.length === 0) return Promise.resolve(true);
    // After Complete the master no longer takes updates for the command.
    if (this.completed) return Promise.resolve(false);
    if (this.held !== undefined) {
      const copy = [...entries];
      const held = this.held;
      return new Promise((acknowledged) => held.push(() => void this.sendUpdateNow(copy).then(acknowledged)));
    }
    return this.sendUpdateNow(entries);
  }

  /** `Complete`, after every update: the last box of the command (docs/master-worker-protocol.md §2.1). */
  complete(error: unknown): void {
    if (this.completed) return;
    const send = () => {
      this.completed = true;
      let failure = error === undefined ? this.droppedUpdate : failureText(error);
      if (failure !== undefined && failure.length > MAX_FAILURE_LENGTH) failure = `${failure.slice(0, MAX_FAILURE_LENGTH)}…`;
      this.call(Complete, failure === undefined ? { commandId: this.commandId } : { commandId: this.commandId, failure }).catch((callError: unknown) =>
        this.logger.warn({ err: callError }, 'master did not accept Complete'),
      );
    };
    if (this.held !== undefined) this.held.push(send);
    else send();
  }

  // ---------------------------------------------------------------- uploads (master-side FileWriter)

  async writeBlock(data: Buffer): Promise<void> {
    await this.released;
    let offset = 0;
    do {
      this.throwIfWriteFailed();
      const piece = data.subarray(offset, offset + MAX_BLOCK_SIZE);
      offset += piece.length;
      this.trackWrite(this.call(UploadWrite, { commandId: this.commandId, data: piece }));
      // Window 1: wait for this very block's ack (stop-and-wait); window n: for room for one more.
      await this.writesBelow(this.window);
    } while (offset < data.length);
    this.throwIfWriteFailed();
  }

  /** Closes the writer once every block is acknowledged; a failed block still closes, then throws. */
  async closeWriter(): Promise<void> {
    await this.released;
    await this.writesBelow(1);
    if (this.writeError !== undefined) {
      // What a stop-and-wait upload would have done: the failed write ends the loop and the
      // command still closes the writer so the master can discard its temp file.
      await this.call(UploadClose, { commandId: this.commandId }).catch(() => undefined);
      throw this.writeError;
    }
    await this.call(UploadClose, { commandId: this.commandId });
  }

  async utime(accessTime: number, modifiedTime: number): Promise<void> {
    await this.released;
    await this.writesBelow(1);
    this.throwIfWriteFailed();
    await this.call(UploadUtime, { commandId: this.commandId, accessTime, modifiedTime });
  }

  /** Directory uploads end with unpack; after a failed block there is nothing sound to unpack. */
  async unpack(): Promise<void> {
    await this.released;
    await this.writesBelow(1);
    this.throwIfWriteFailed();
    await this.call(UploadUnpack, { commandId: this.commandId });
  }

  // ---------------------------------------------------------------- downloads (master-side FileReader)

  /**
   * The master's reader is a byte stream (each read continues where the last ended), so reads can
   * be issued ahead; the command gets the same bytes, at most `maxLength` at a time. Each block is
   * leased to the caller, which releases it (`releaseView`) once it is done with it.
   */
  async readBlock(maxLength: number): Promise<Buffer> {
    await this.released;
    if (maxLength <= 0) return EMPTY;
    if (this.readBuffer.length === 0) {
      if (this.readEof) return EMPTY;
      const length = Math.min(maxLength, MAX_BLOCK_SIZE);
      while (this.reads.length < this.window) this.issueRead(length);
      const head = this.reads.shift()!;
      const result = await head.result;
      // Until it is kept as readBuffer below, the answer is only checked.
      if (!(result instanceof Error) && (result.length === 0 || result.length > head.length)) releaseView(result);
      if (result instanceof Error) {
        this.readEof = true;
        throw result;
      }
      if (result.length > head.length) {
        this.readEof = true;
        throw new ReadOverrunError(head.length, result.length);
      }
      if (result.length === 0) {
        // Later reads were asked past the end; they will come back empty too.
        this.readEof = true;
        return EMPTY;
      }
      this.readBuffer = result;
      this.leasedRead = result;
    }
    const block = this.readBuffer.subarray(0, maxLength);
    this.readBuffer = this.readBuffer.subarray(block.length);
    leaseView(block);
    if (this.readBuffer.length === 0) this.endReadLease();
    return block;
  }

  /** The answer's bytes are all handed out (each block with a lease of its own), or dropped. */
  private endReadLease(): void {
    if (this.leasedRead !== undefined) releaseView(this.leasedRead);
    this.leasedRead = undefined;
  }

  /** Always sent by a download (docs/master-worker-protocol.md §3.4), after any read still in flight has come back. */
  async closeReader(): Promise<void> {
    await this.released;
    const outstanding = this.reads.splice(0);
    const unread = await Promise.all(outstanding.map((read) => read.result));
    for (const result of unread) if (!(result instanceof Error)) releaseView(result);
    this.endReadLease();
    this.readBuffer = EMPTY;
    this.readEof = true;
    await this.call(DownloadClose, { commandId: this.commandId });
  }

  /** Blocks in flight right now (for tests and progress). */
  get inflight(): number {
    return this.inflightWrites + this.reads.length;
  }

  // ---------------------------------------------------------------- internals

  /** Settles once the master answered every batch, whichever way: true when every entry was sent and accepted. */
  private sendUpdateNow(entries: readonly UpdateEntry[]): Promise<boolean> {
    const batches = this.fitToValues(entries);
    const complete = batches.reduce((sum, batch) => sum + batch.length, 0) === entries.length;
    const answers = batches.map((batch) =>
      this.call(Update, { commandId: this.commandId, updates: batch }).then(
        () => true,
        (error: unknown) => {
          this.logger.warn({ err: error }, 'master did not accept an update');
          return false;
        },
      ),
    );
    return Promise.all(answers).then((accepted) => complete && accepted.every(Boolean));
  }

  /**
   * Output is batched below 48 KiB already; only non-text values (a huge `files` list) can exceed
   * AMP's 64 KiB value. Such batches go out as several updates; a single entry that cannot fit is
   * dropped and the command completes with a failure that says so.
   */
  private fitToValues(entries: readonly UpdateEntry[]): UpdateEntry[][] {
    const all = entries as UpdateEntry[];
    if (encodedSize(all) <= MAX_UPDATES_BYTES) return [all];
    const batches: UpdateEntry[][] = [];
    let batch: UpdateEntry[] = [];
    let batchSize = 0;
    for (const entry of entries) {
      const size = encodedSize([entry]);
      if (size > MAX_UPDATES_BYTES) {
        this.logger.error({ key: entry[0], bytes: size }, 'update too large for one AMP value; dropped');
        this.droppedUpdate ??= `update '${entry[0]}' is ${size} bytes encoded, over the 65535-byte AMP value limit; it was not sent`;
        continue;
      }
      if (batchSize + size > MAX_UPDATES_BYTES && batch.length > 0) {
        batches.push(batch);
        batch = [];
        batchSize = 0;
      }
      batch.push(entry);
      batchSize += size;
    }
    if (batch.length > 0) batches.push(batch);
    return batches;
  }

  private issueRead(length: number): void {
    // The bytes are leased until readBlock has handed all of them out (see readBlock).
    const result = this.call(DownloadRead, { commandId: this.commandId, length }, LEASE_READ).then(
      (answer) => answer.data,
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    );
    this.reads.push({ length, result });
  }

  private trackWrite(promise: Promise<unknown>): void {
    this.inflightWrites += 1;
    promise.then(
      () => this.writeSettled(),
      (error: unknown) => {
        this.writeError ??= error instanceof Error ? error : new Error(String(error));
        this.writeSettled();
      },
    );
  }

  private writeSettled(): void {
    this.inflightWrites -= 1;
    const waiters = this.writeWaiters;
    this.writeWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once fewer than `limit` writes are unacknowledged (or one failed). */
  private async writesBelow(limit: number): Promise<void> {
    while (this.inflightWrites >= limit && this.writeError === undefined) {
      await new Promise<void>((resolve) => this.writeWaiters.push(resolve));
    }
  }

  private throwIfWriteFailed(): void {
    if (this.writeError !== undefined) throw this.writeError;
  }

  /** callRemote, with its synchronous throws (closed connection, oversize value) as rejections. */
  private call<C extends Command<any, any>>(command: C, args: ArgumentsOf<C>, options?: CallOptions): Promise<ResponseOf<C>> {
    try {
      return this.connection.callRemote(command, args, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/** Measured, not encoded: the Update call encodes the batch once, when it is sent. */
function encodedSize(entries: UpdateEntry[]): number {
  try {
    return msgpackEncodedSize(entries);
  } catch {
    // Not encodable at all: callRemote will report it.
    return 0;
  }
}

/** What Buildbot's msgpack worker sends as `complete`'s failure: the failure's text. */
export function failureText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${error.message}`;
  }
  return String(error);
}
