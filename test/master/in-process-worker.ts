/**
 * A worker in the test process that runs the real worker commands (`actors/worker/commands`)
 * behind an InMemoryConnection, so the master's transfers and commands are exercised end to end
 * without a worker daemon. Uploads can be windowed: up to `window` writes in flight, as an
 * ampstate worker may pipeline them.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuilderList, MasterOps, WorkerInfo, WorkerOps, WorkerSettings } from '../../actors/master/connection-api.js';
import { InMemoryConnection } from '../../actors/master/in-memory-connection.js';
import type { CommandChannel, RunningCommand } from '../../actors/worker/commands/command.js';
import { collectWorkerInfo } from '../../actors/worker/commands/worker-info.js';
import { startCommand } from '../../actors/worker/commands/registry.js';
import { AmpConnection } from '../../actors/amp-connection.js';
import { Listener } from '../../actors/master/listener.js';
import type { MasterConnection } from '../../actors/master/master-connection.js';
import { createMemoryPair } from '../../actors/memory-pair.js';
import { Login } from '../../codec/protocols/worker-commands.js';
import { CommandRejectedError } from '../../codec/protocols/worker-errors.js';
import { ampMasterOps, attachedEvent, workerResponders } from '../contract/harnesses.js';

export interface InProcessWorkerOptions {
  readonly basedir: string;
  /** Upload writes in flight at once (1 = stop-and-wait). */
  readonly window?: number;
  /** Runs before each master call the worker makes, e.g. to drop the link mid-transfer. */
  readonly beforeMasterCall?: (op: string, commandId: string) => void | Promise<void>;
}

class WindowedWrites {
  private readonly inflight = new Set<Promise<void>>();
  private failure: unknown;
  maxInFlight = 0;

  constructor(
    private readonly window: number,
    private readonly send: (data: Buffer) => Promise<void>,
  ) {}

  async write(data: Buffer): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    while (this.inflight.size >= this.window) await Promise.race(this.inflight);
    if (this.failure !== undefined) throw this.failure;
    const call: Promise<void> = this.send(data)
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => this.inflight.delete(call));
    this.inflight.add(call);
    this.maxInFlight = Math.max(this.maxInFlight, this.inflight.size);
  }

  async drain(): Promise<void> {
    await Promise.all(this.inflight);
    if (this.failure !== undefined) throw this.failure;
  }
}

export class InProcessWorker implements WorkerOps {
  master: MasterOps | undefined;
  readonly running = new Map<string, RunningCommand>();
  readonly started: Array<{ name: string; args: Record<string, unknown> }> = [];
  readonly interrupts: string[] = [];
  maxWritesInFlight = 0;
  private readonly options: InProcessWorkerOptions;

  constructor(options: InProcessWorkerOptions) {
    this.options = options;
  }

  /** An attached InMemoryConnection to this worker; a drop kills its commands (as ours do). */
  async connect(builders: BuilderList = [['b', 'build-b']]): Promise<InMemoryConnection> {
    const connection = new InMemoryConnection(this, {
      name: 'inproc',
      builders,
      keepaliveIntervalMs: 0,
      onDisconnect: () => this.killAll(),
    });
    this.master = connection.master;
    await connection.attach();
    return connection;
  }

  /** The same worker behind a Listener, over real AMP boxes on an in-memory duplex pair. */
  async connectOverAmp(builders: BuilderList = [['b', 'build-b']]): Promise<{ connection: MasterConnection; listener: Listener }> {
    const listener = new Listener({
      registrations: { inproc: { password: 'pw', builders } },
      keepaliveIntervalMs: 0,
      loginTimeoutMs: 0,
    });
    const attached = attachedEvent(listener, 'inproc');
    const [workerEnd, masterEnd] = createMemoryPair();
    listener.accept(masterEnd);
    const amp = new AmpConnection(workerEnd, { role: 'client', responders: workerResponders(this) });
    this.master = ampMasterOps(amp);
    void amp.closed.then(() => this.killAll());
    await amp.callRemote(Login, { username: 'inproc', password: 'pw', transferWindow: this.options.window ?? 1 });
    return { connection: await attached, listener };
  }

  killAll(): void {
    for (const command of this.running.values()) command.kill();
  }

  async print(): Promise<void> {}
  async keepalive(): Promise<void> {}

  async getWorkerInfo(): Promise<WorkerInfo> {
    return collectWorkerInfo(this.options.basedir, { version: 'test', osReleasePath: '/nonexistent' });
  }

  async setWorkerSettings(_settings: WorkerSettings): Promise<void> {}

  async setBuilderList(builders: BuilderList): Promise<string[]> {
    for (const [, builddir] of builders) await mkdir(join(this.options.basedir, builddir), { recursive: true });
    return builders.map(([name]) => name);
  }

  async startCommand(_builderName: string, commandId: string, commandName: string, args: Record<string, unknown>): Promise<void> {
    this.started.push({ name: commandName, args });
    let running: RunningCommand;
    try {
      running = startCommand(commandName, args, this.channel(commandId), {
        basedir: this.options.basedir,
        environ: process.env,
        output: { bufferTimeoutSeconds: 0.01 },
      });
    } catch (error) {
      throw new CommandRejectedError((error as Error).message);
    }
    this.running.set(commandId, running);
    void running.done
      .then(
        () => undefined,
        (error: unknown) => String(error),
      )
      .then((failure) => {
        this.running.delete(commandId);
        return this.call('complete', commandId, (master) => master.complete(commandId, failure));
      })
      .catch(() => undefined);
  }

  async interruptCommand(_builderName: string, commandId: string, why: string): Promise<void> {
    this.interrupts.push(commandId);
    this.running.get(commandId)?.interrupt(why);
  }

  async shutdown(): Promise<void> {}

  private async call<T>(op: string, commandId: string, work: (master: MasterOps) => Promise<T>): Promise<T> {
    await this.options.beforeMasterCall?.(op, commandId);
    return work(this.master as MasterOps);
  }

  private channel(commandId: string): CommandChannel {
    const writes = new WindowedWrites(this.options.window ?? 1, (data) => this.call('write', commandId, (master) => master.uploadWrite(commandId, data)));
    const noteWindow = () => (this.maxWritesInFlight = Math.max(this.maxWritesInFlight, writes.maxInFlight));
    return {
      sendUpdate: (entries) =>
        this.call('update', commandId, (master) => master.update(commandId, entries)).then(
          () => true,
          () => false,
        ),
      writeBlock: async (data) => {
        await writes.write(data);
        noteWindow();
      },
      closeWriter: async () => {
        await writes.drain();
        await this.call('close', commandId, (master) => master.uploadClose(commandId));
      },
      utime: (accessTime, modifiedTime) => this.call('utime', commandId, (master) => master.uploadUtime(commandId, accessTime, modifiedTime)),
      unpack: async () => {
        await writes.drain();
        await this.call('unpack', commandId, (master) => master.uploadUnpack(commandId));
      },
      readBlock: (maxLength) => this.call('read', commandId, (master) => master.downloadRead(commandId, maxLength)),
      closeReader: () => this.call('closeReader', commandId, (master) => master.downloadClose(commandId)),
    };
  }
}
