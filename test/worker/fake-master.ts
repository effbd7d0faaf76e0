/**
 * A scripted master for worker-session tests, built only from AmpConnection and responders: it
 * checks Login, records every worker→master box in arrival order, acts as FileWriter and
 * FileReader (optionally answering blocks late, to see how many are in flight), and lets the test
 * call the master→worker commands.
 */
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { AmpConnection } from '../../actors/amp-connection.js';
import { listen, type AmpServer, type ConnectOptions } from '../../actors/connect.js';
import { createMemoryPair } from '../../actors/memory-pair.js';
import { ResponderTable } from '../../actors/responders.js';
import type { ArgumentsOf, Command, ResponseOf } from '../../codec/command.js';
import {
  Complete,
  DownloadClose,
  DownloadRead,
  Login,
  StartCommand,
  Update,
  UploadClose,
  UploadUnpack,
  UploadUtime,
  UploadWrite,
  type UpdateEntry,
} from '../../codec/protocols/worker-commands.js';
import { LoginRefusedError, NotAuthenticatedError, TransferError, UnknownCommandIdError } from '../../codec/protocols/worker-errors.js';

export interface FakeMasterOptions {
  readonly name?: string;
  readonly password?: string;
  /** The most blocks the master lets a worker keep in flight (its Login answer). */
  readonly transferWindow?: number;
  /** Answer each UploadWrite and DownloadRead this many ms late. */
  readonly blockDelayMs?: number;
  /** Refuse the n-th UploadWrite (1-based) with a TransferError, as a full disk would. */
  readonly failWriteAt?: number;
}

/** One worker→master box, as the master saw it. */
export type Op =
  | { readonly op: 'update'; readonly commandId: string; readonly updates: UpdateEntry[] }
  | { readonly op: 'complete'; readonly commandId: string; readonly failure: string | undefined }
  | { readonly op: 'write'; readonly commandId: string; readonly length: number }
  | { readonly op: 'utime'; readonly commandId: string; readonly accessTime: number; readonly modifiedTime: number }
  | { readonly op: 'close' | 'unpack' | 'readClose'; readonly commandId: string }
  | { readonly op: 'read'; readonly commandId: string; readonly length: number };

export interface LoginAttempt {
  readonly username: string;
  readonly password: string;
  readonly transferWindow: number | undefined;
  readonly accepted: boolean;
}

/** The master's end of one worker connection. */
export class MasterSide {
  connection!: AmpConnection;
  readonly table = new ResponderTable();
  readonly ops: Op[] = [];
  readonly logins: LoginAttempt[] = [];
  readonly uploads = new Map<string, Buffer[]>();
  /** What DownloadRead serves, per command id. */
  readonly downloads = new Map<string, Buffer>();
  /** Commands whose updates arrived while a call of ours (their StartCommand) was unanswered. */
  readonly updatesWhileCalling = new Set<string>();
  /** The most UploadWrite / DownloadRead calls seen unanswered at once. */
  maxInflight = 0;
  private inflight = 0;
  private readonly readOffsets = new Map<string, number>();
  private authenticated = false;
  private readonly completeWaiters = new Map<string, Array<(failure: string | undefined) => void>>();
  private readonly loginWaiters: Array<() => void> = [];

  constructor(private readonly options: FakeMasterOptions) {
    const name = options.name ?? 'w1';
    const password = options.password ?? 'secret';
    this.table.on(Login, ({ username, password: given, transferWindow }) => {
      const accepted = username === name && sameSecret(given, password);
      this.logins.push({ username, password: given, transferWindow, accepted });
      if (!accepted) throw new LoginRefusedError(`invalid login for worker '${username}'`);
      this.authenticated = true;
      for (const wake of this.loginWaiters.splice(0)) wake();
      return { transferWindow: Math.min(options.transferWindow ?? 16, transferWindow ?? 1) };
    });
    this.table.on(Update, ({ commandId, updates }) => {
      this.check(commandId);
      // Replies are matched synchronously as boxes are parsed, so this is exact.
      if (this.connection.pendingCalls > 0) this.updatesWhileCalling.add(commandId);
      this.ops.push({ op: 'update', commandId, updates });
      return {};
    });
    this.table.on(Complete, ({ commandId, failure }) => {
      this.check(commandId);
      this.ops.push({ op: 'complete', commandId, failure });
      for (const wake of this.completeWaiters.get(commandId) ?? []) wake(failure);
      this.completeWaiters.delete(commandId);
      return {};
    });
    this.table.on(UploadWrite, ({ commandId, data }) => {
      this.check(commandId);
      this.ops.push({ op: 'write', commandId, length: data.length });
      if (this.ops.filter((op) => op.op === 'write').length === options.failWriteAt) {
        return this.late(undefined).then(() => {
          throw new TransferError('No space left on device');
        });
      }
      const blocks = this.uploads.get(commandId) ?? [];
      blocks.push(Buffer.from(data));
      this.uploads.set(commandId, blocks);
      return this.late({});
    });
    this.table.on(UploadUtime, ({ commandId, accessTime, modifiedTime }) => {
      this.check(commandId);
      this.ops.push({ op: 'utime', commandId, accessTime, modifiedTime });
      return {};
    });
    this.table.on(UploadClose, ({ commandId }) => {
      this.check(commandId);
      this.ops.push({ op: 'close', commandId });
      return {};
    });
    this.table.on(UploadUnpack, ({ commandId }) => {
      this.check(commandId);
      this.ops.push({ op: 'unpack', commandId });
      return {};
    });
    this.table.on(DownloadRead, ({ commandId, length }) => {
      this.check(commandId);
      this.ops.push({ op: 'read', commandId, length });
      // Served in arrival order, as a real FileReader must when reads are pipelined.
      const source = this.downloads.get(commandId) ?? Buffer.alloc(0);
      const offset = this.readOffsets.get(commandId) ?? 0;
      const data = source.subarray(offset, offset + length);
      this.readOffsets.set(commandId, offset + data.length);
      return this.late({ data });
    });
    this.table.on(DownloadClose, ({ commandId }) => {
      this.check(commandId);
      this.ops.push({ op: 'readClose', commandId });
      return {};
    });
  }

  attach(connection: AmpConnection): void {
    this.connection = connection;
  }

  /** Resolves once a Login was accepted on this connection. */
  loggedIn(): Promise<void> {
    if (this.authenticated) return Promise.resolve();
    return new Promise((resolve) => this.loginWaiters.push(resolve));
  }

  call<C extends Command<any, any>>(command: C, args: ArgumentsOf<C>): Promise<ResponseOf<C>> {
    return this.connection.callRemote(command, args);
  }

  startCommand(commandId: string, commandName: string, args: Record<string, unknown>): Promise<unknown> {
    return this.call(StartCommand, { builderName: 'builder', commandId, commandName, args });
  }

  /** Resolves with the failure text (undefined on success) once `Complete` arrived. */
  completion(commandId: string): Promise<string | undefined> {
    const done = this.ops.find((op) => op.op === 'complete' && op.commandId === commandId);
    if (done !== undefined && done.op === 'complete') return Promise.resolve(done.failure);
    return new Promise((resolve) => {
      const waiters = this.completeWaiters.get(commandId) ?? [];
      waiters.push(resolve);
      this.completeWaiters.set(commandId, waiters);
    });
  }

  /** Starts a command and waits for its Complete. */
  async run(commandId: string, commandName: string, args: Record<string, unknown>): Promise<string | undefined> {
    const completion = this.completion(commandId);
    await this.startCommand(commandId, commandName, args);
    return completion;
  }

  opsFor(commandId: string): Op[] {
    return this.ops.filter((op) => op.commandId === commandId);
  }

  updateBoxes(commandId: string): UpdateEntry[][] {
    return this.opsFor(commandId).flatMap((op) => (op.op === 'update' ? [op.updates] : []));
  }

  updates(commandId: string): UpdateEntry[] {
    return this.updateBoxes(commandId).flat();
  }

  /** All text of one stream, in order. */
  text(commandId: string, key: 'stdout' | 'stderr' | 'header'): string {
    return this.updates(commandId)
      .filter(([entryKey]) => entryKey === key)
      .map(([, value]) => String(value))
      .join('');
  }

  value(commandId: string, key: string): unknown {
    return this.updates(commandId).find(([entryKey]) => entryKey === key)?.[1];
  }

  uploaded(commandId: string): Buffer {
    return Buffer.concat(this.uploads.get(commandId) ?? []);
  }

  private check(commandId: string): void {
    if (!this.authenticated) throw new NotAuthenticatedError('Worker not authenticated.');
    if (commandId === '') throw new UnknownCommandIdError('unknown "command_id"');
  }

  /** Answers now, or late while counting how many blocks wait for their answer. */
  private late<T>(answer: T): Promise<T> {
    this.inflight += 1;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    const delayMs = this.options.blockDelayMs ?? 0;
    if (delayMs === 0) {
      // Still counted: answers leave after this tick, so pipelined blocks overlap here too.
      return Promise.resolve().then(() => {
        this.inflight -= 1;
        return answer;
      });
    }
    return new Promise((resolve) =>
      setTimeout(() => {
        this.inflight -= 1;
        resolve(answer);
      }, delayMs),
    );
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A master listening on loopback TCP; each accepted worker connection gets its own MasterSide. */
export class FakeMaster {
  readonly sides: MasterSide[] = [];
  private readonly sideWaiters: Array<() => void> = [];
  private server: AmpServer | undefined;

  constructor(readonly options: FakeMasterOptions = {}) {}

  static async listen(options: FakeMasterOptions = {}): Promise<FakeMaster> {
    const master = new FakeMaster(options);
    let pending: MasterSide | undefined;
    master.server = await listen('tcp:0', {
      name: 'FakeMaster',
      responders: () => {
        pending = new MasterSide(master.options);
        return pending.table;
      },
      onConnection: (connection) => {
        const side = pending as MasterSide;
        side.attach(connection);
        master.add(side);
      },
    });
    return master;
  }

  get endpoint(): string {
    const address = this.server?.address as AddressInfo;
    return `tcp:127.0.0.1:${address.port}`;
  }

  /**
   * A `connect` option for WorkerSession that reaches this master over an in-memory pair instead
   * of TCP (no sockets, so fake clocks see everything).
   */
  readonly connectInMemory = async (options: ConnectOptions): Promise<AmpConnection> => {
    const [workerEnd, masterEnd] = createMemoryPair();
    const side = new MasterSide(this.options);
    side.attach(new AmpConnection(masterEnd, { responders: side.table, role: 'server', name: 'FakeMaster' }));
    this.add(side);
    return new AmpConnection(workerEnd, { ...options, role: 'client' });
  };

  /** The n-th worker connection (0-based), once it exists. */
  async side(index = 0): Promise<MasterSide> {
    while (this.sides[index] === undefined) await new Promise<void>((resolve) => this.sideWaiters.push(resolve));
    return this.sides[index] as MasterSide;
  }

  /** The n-th connection once its Login succeeded. */
  async attached(index = 0): Promise<MasterSide> {
    const side = await this.side(index);
    await side.loggedIn();
    return side;
  }

  async close(): Promise<void> {
    for (const side of this.sides) side.connection.abort();
    await this.server?.close({ closeConnections: true });
  }

  private add(side: MasterSide): void {
    this.sides.push(side);
    for (const wake of this.sideWaiters.splice(0)) wake();
  }
}
