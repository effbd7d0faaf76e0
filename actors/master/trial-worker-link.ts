/**
 * The master's end of one `trial_worker` command (docs/master-worker-protocol.md §3.7): a trial
 * worker process on a farm worker, its fd 4 arriving as `trial_amp` updates and its fd 3 fed with
 * `CommandInput` calls. It is what the admin API's trial-worker WebSocket drives, and what any
 * program holding an attached worker's Connection can use directly.
 *
 * Only ampstate workers over AMP can run it: `CommandInput` is an AMP command, and the worker must
 * list `trial_worker` in its `worker_commands`.
 */
import { Subject, type Observable } from 'rxjs';
import { CommandInput } from '../../codec/protocols/worker-commands.js';
import type { Logger } from '../logger.js';
import { NoTrialSupportError } from './admin/errors.js';
import { ADMIN_BUILDER, ADMIN_WORKDIR } from './admin/farm-control.js';
import type { Connection } from './connection-api.js';
import { WorkerDisconnectedError } from './errors.js';
import { MasterConnection } from './master-connection.js';
import { RemoteCommand } from './remote-command.js';

export const TRIAL_WORKER_COMMAND = 'trial_worker';
/** The most fd 3 bytes per `CommandInput`: one AMP value holds at most 65535. */
export const MAX_INPUT_CHUNK_BYTES = 32 * 1024;

/** What to run; `workdir` is relative to the builder's directory (default `build`), as for `shell`. */
export interface TrialWorkerSpec {
  readonly kind: 'python' | 'node';
  readonly python?: string;
  readonly workdir?: string;
  /** The trial temp directory (Start's `directory`), relative to `workdir`; made by the worker. */
  readonly directory: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly workerArguments?: readonly string[];
  /** Test names the worker's Python must import (as trial's loader would) before the process starts. */
  readonly importCheck?: readonly string[];
  readonly dialect?: string;
}

export type TrialWorkerOutput =
  | { readonly type: 'started'; readonly pid: number; readonly directory: string }
  | { readonly type: 'amp'; readonly data: Uint8Array }
  | { readonly type: 'stdout' | 'stderr'; readonly text: string };

export interface TrialWorkerEnd {
  /** The process's exit status; null when it never ran or its fate is unknown (disconnect). */
  readonly rc: number | null;
  readonly signal: string | null;
  /** Why the command did not end normally, naming the farm worker. */
  readonly failure?: string;
  /** Set when the import check failed: the names and why. */
  readonly importFailures?: readonly { readonly name: string; readonly reason: string }[];
}

export interface TrialWorkerLinkOptions {
  readonly logger: Logger;
  /** The builder the command runs for (its directory is where `workdir` starts); default `admin`. */
  readonly builder?: string;
}

/** Throws NoTrialSupportError unless `connection` is an ampstate worker over AMP that has `trial_worker`. */
export function requireTrialSupport(connection: Connection): MasterConnection {
  const commands = connection.info?.['worker_commands'];
  const listed = typeof commands === 'object' && commands !== null && Object.hasOwn(commands, TRIAL_WORKER_COMMAND);
  if (!(connection instanceof MasterConnection)) {
    throw new NoTrialSupportError(`farm worker ${connection.name} cannot run trial workers: it is not an ampstate worker connected over AMP (a stock Buildbot worker has no ${TRIAL_WORKER_COMMAND} command)`);
  }
  if (!listed) throw new NoTrialSupportError(`farm worker ${connection.name} cannot run trial workers: its worker_commands have no ${TRIAL_WORKER_COMMAND} (an older ampstate?)`);
  return connection;
}

export class TrialWorkerLink {
  /** Resolves once the command has ended, however it ended (never rejects). */
  readonly ended: Promise<TrialWorkerEnd>;
  readonly workerName: string;
  private readonly output = new Subject<TrialWorkerOutput>();
  private readonly command: RemoteCommand;
  private readonly connection: MasterConnection;
  private readonly logger: Logger;
  /** fd 3 writes go out one at a time, in order, each after the previous was written to the pipe. */
  private inputQueue: Promise<void>;
  private inputClosed = false;

  constructor(connection: Connection, spec: TrialWorkerSpec, options: TrialWorkerLinkOptions) {
    this.connection = requireTrialSupport(connection);
    this.workerName = connection.name;
    this.logger = options.logger.child({ component: 'TrialWorkerLink', worker: connection.name });
    // Absent fields stay absent: msgpack would turn undefined into null.
    const args = Object.fromEntries(Object.entries({ ...spec, workdir: spec.workdir ?? ADMIN_WORKDIR }).filter(([, value]) => value !== undefined));
    this.command = new RemoteCommand(TRIAL_WORKER_COMMAND, args, { logger: options.logger, streamedKeys: new Set(['trial_amp']) });
    this.command.updates$.subscribe(({ key, value }) => this.onUpdate(key, value));
    const result = this.command.run(this.connection, options.builder ?? ADMIN_BUILDER);
    // Input waits for the worker's start answer: a CommandInput must never overtake its StartCommand.
    this.inputQueue = this.command.started.then(() => undefined);
    this.ended = result.then((outcome) => {
      const exit = outcome.updates['trial_exit']?.at(-1) as { code: number | null; signal: string | null } | undefined;
      const importFailures = outcome.updates['trial_import_failures']?.at(-1) as TrialWorkerEnd['importFailures'];
      const end: TrialWorkerEnd = {
        rc: exit === undefined ? null : (outcome.rc ?? null),
        signal: exit?.signal ?? null,
        ...(outcome.failure !== undefined ? { failure: this.describeFailure(outcome.failure, importFailures) } : {}),
        ...(importFailures !== undefined && importFailures.length > 0 ? { importFailures } : {}),
      };
      this.output.complete();
      return end;
    });
  }

  /** `started`, then fd 4's bytes, stdout and stderr, as they arrive; completes when the command ends. */
  get output$(): Observable<TrialWorkerOutput> {
    return this.output.asObservable();
  }

  /** Writes to the process's fd 3; resolves once the farm worker has written the bytes to the pipe. */
  write(data: Uint8Array): Promise<void> {
    if (this.inputClosed) return Promise.reject(new Error('fd 3 was closed'));
    const chunks: Uint8Array[] = [];
    for (let offset = 0; offset < data.length; offset += MAX_INPUT_CHUNK_BYTES) chunks.push(data.subarray(offset, offset + MAX_INPUT_CHUNK_BYTES));
    return this.enqueue(chunks);
  }

  /** Closes fd 3 (the trial worker exits at EOF, after the Run in progress). */
  end(): Promise<void> {
    if (this.inputClosed) return this.inputQueue;
    this.inputClosed = true;
    return this.enqueue([new Uint8Array(0)]);
  }

  /** Kills the process (the farm worker interrupts the command); `ended` follows. */
  interrupt(why: string): void {
    void this.command.interrupt(why);
  }

  private enqueue(chunks: readonly Uint8Array[]): Promise<void> {
    const sent = this.inputQueue.then(async () => {
      for (const data of chunks) {
        if (this.connection.amp.isClosed) throw new WorkerDisconnectedError(this.workerName);
        await this.connection.amp.callRemote(CommandInput, { commandId: this.command.commandId!, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) });
      }
    });
    // A failed write (the process is gone) does not stop later ones from failing on their own.
    this.inputQueue = sent.catch((error: unknown) => this.logger.debug({ err: error }, 'fd 3 input not delivered'));
    return sent;
  }

  private onUpdate(key: string, value: unknown): void {
    if (key === 'trial_amp' && value instanceof Uint8Array) this.output.next({ type: 'amp', data: value });
    else if (key === 'stdout' || key === 'stderr') this.output.next({ type: key, text: String(value) });
    else if (key === 'trial_started' && typeof value === 'object' && value !== null) {
      const { pid, directory } = value as { pid: number; directory: string };
      this.output.next({ type: 'started', pid, directory });
    }
  }

  private describeFailure(failure: Error, importFailures: TrialWorkerEnd['importFailures']): string {
    const who = `farm worker ${this.workerName}`;
    if (importFailures !== undefined && importFailures.length > 0) {
      return importFailures.map(({ name, reason }) => `${who} cannot import ${name}: ${reason}`).join('\n');
    }
    if (failure instanceof WorkerDisconnectedError) {
      const cause = failure.cause instanceof Error ? failure.cause.message : 'connection lost';
      return `${who} disconnected: ${cause}`;
    }
    const text = 'failure' in failure && typeof failure.failure === 'string' ? failure.failure : failure.message;
    return `${who}: ${text}`;
  }
}
