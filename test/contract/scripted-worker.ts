/**
 * A scripted worker for the Connection contract: it records every master → worker call and
 * answers with defaults that a test can override per op, in the spirit of Buildbot's
 * FakeConnection/`remoteCalls`. Transports wrap it: the AMP harness serves it through responders
 * over an in-memory duplex pair; the in-memory harness hands it to InMemoryConnection directly.
 */
import type { BuilderList, MasterOps, WorkerInfo, WorkerOps, WorkerSettings } from '../../actors/master/connection-api.js';

export interface WorkerCall {
  readonly op: keyof WorkerOps;
  readonly args: readonly unknown[];
}

type Handlers = { -readonly [K in keyof WorkerOps]?: WorkerOps[K] };

export function defaultWorkerInfo(): WorkerInfo {
  return {
    admin: 'Test Admin <admin@example.org>\n',
    host: 'test host\n',
    environ: { HOME: '/home/worker', PATH: '/usr/bin:/bin' },
    system: 'posix',
    basedir: '/srv/worker',
    numcpus: 2,
    version: '0.1.0',
    worker_commands: { shell: '3.3', upload_file: '3.3', uploadFile: '3.3' },
    delete_leftover_dirs: false,
  };
}

export class ScriptedWorker implements WorkerOps {
  readonly calls: WorkerCall[] = [];
  info: WorkerInfo = defaultWorkerInfo();
  /** Overrides by op; the defaults answer at once. */
  readonly handlers: Handlers = {};

  callsOf(op: keyof WorkerOps): WorkerCall[] {
    return this.calls.filter((call) => call.op === op);
  }

  print(message: string): Promise<void> {
    this.calls.push({ op: 'print', args: [message] });
    return this.handlers.print?.(message) ?? Promise.resolve();
  }

  keepalive(): Promise<void> {
    this.calls.push({ op: 'keepalive', args: [] });
    return this.handlers.keepalive?.() ?? Promise.resolve();
  }

  getWorkerInfo(): Promise<WorkerInfo> {
    this.calls.push({ op: 'getWorkerInfo', args: [] });
    return this.handlers.getWorkerInfo?.() ?? Promise.resolve(this.info);
  }

  setWorkerSettings(settings: WorkerSettings): Promise<void> {
    this.calls.push({ op: 'setWorkerSettings', args: [settings] });
    return this.handlers.setWorkerSettings?.(settings) ?? Promise.resolve();
  }

  setBuilderList(builders: BuilderList): Promise<string[]> {
    this.calls.push({ op: 'setBuilderList', args: [builders] });
    return this.handlers.setBuilderList?.(builders) ?? Promise.resolve(builders.map(([name]) => name));
  }

  startCommand(builderName: string, commandId: string, commandName: string, args: Record<string, unknown>): Promise<void> {
    this.calls.push({ op: 'startCommand', args: [builderName, commandId, commandName, args] });
    return this.handlers.startCommand?.(builderName, commandId, commandName, args) ?? Promise.resolve();
  }

  interruptCommand(builderName: string, commandId: string, why: string): Promise<void> {
    this.calls.push({ op: 'interruptCommand', args: [builderName, commandId, why] });
    return this.handlers.interruptCommand?.(builderName, commandId, why) ?? Promise.resolve();
  }

  shutdown(): Promise<void> {
    this.calls.push({ op: 'shutdown', args: [] });
    return this.handlers.shutdown?.() ?? Promise.resolve();
  }
}

/** The worker's end of one connected pair. */
export interface WorkerEnd {
  readonly script: ScriptedWorker;
  /** The master's op set, as this worker reaches it (over the wire or directly). */
  readonly master: MasterOps;
  /** Drops the link from the worker's end. */
  disconnect(): void;
  /** Resolves once the worker's end has seen the link go down. */
  readonly gone: Promise<void>;
}
