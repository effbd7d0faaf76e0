/**
 * The farm as a stream of typed events: what the admin server's consumers (the metrics, the
 * dashboard) watch. One {@link FarmEventBus} per master; the service feeds it from the listeners
 * (workers attaching and detaching, refused connections), from the commands and transfers the
 * master runs, whoever runs them (diagnostic-channel-feed.ts), and from an xstate inspector
 * (machine snapshots). Consumers subscribe to
 * `events$`; nothing here blocks the hot path: output events are per update batch the worker sent,
 * not per byte, and machine snapshots are control events only (see docs/master-service.md).
 */
import { Subject, type Observable } from 'rxjs';
import type { InspectionEvent } from 'xstate';
import type { Refusal } from '../../refusals.js';
import type { ConnectionState, WorkerInfo } from '../connection-api.js';
import type { ResultCode } from '../results.js';

/** Which listener a worker came through. */
export type WorkerProtocol = 'amp' | 'msgpack';

/** What the farm knows about one attached worker. */
export interface WorkerSummary {
  readonly name: string;
  readonly protocol: WorkerProtocol;
  /** Live: follows the connection machine's snapshots. */
  readonly state: ConnectionState;
  /** The builders set on the worker when it attached (names). */
  readonly builders: readonly string[];
  /** The xstate session id of the worker's masterConnection actor (see `machine-snapshot`). */
  readonly machine: string;
  /** The worker's info dict (admin, host, version, system…), once the handshake got it. */
  readonly info: WorkerInfo | undefined;
  readonly attachedAt: Date;
}

export type OutputStream = 'stdout' | 'stderr' | 'header';
export type TransferDirection = 'to-worker' | 'from-worker';

export type FarmEvent =
  | { readonly type: 'worker-attached'; readonly at: Date; readonly worker: WorkerSummary }
  | { readonly type: 'worker-detached'; readonly at: Date; readonly name: string; readonly reason: string }
  | { readonly type: 'refusal'; readonly at: Date; readonly refusal: Refusal }
  | {
      readonly type: 'command-started';
      readonly at: Date;
      /** Unique for the master's lifetime; ties output and the end to the start. */
      readonly commandId: string;
      readonly worker: string;
      /** The worker command (`shell`, `uploadFile`…). */
      readonly command: string;
      /** What a person reads: the shell command line, the file path. */
      readonly summary: string;
    }
  | { readonly type: 'command-output'; readonly at: Date; readonly commandId: string; readonly worker: string; readonly stream: OutputStream; readonly text: string }
  | {
      readonly type: 'command-finished';
      readonly at: Date;
      readonly commandId: string;
      readonly worker: string;
      readonly command: string;
      readonly rc: number | undefined;
      /** Buildbot's result code (SUCCESS 0 … CANCELLED 6). */
      readonly results: ResultCode;
      readonly durationMs: number;
      /** Why it did not complete normally, when it did not. */
      readonly failure?: string;
    }
  | {
      readonly type: 'transfer-progress';
      readonly at: Date;
      readonly commandId: string;
      readonly worker: string;
      readonly direction: TransferDirection;
      /** Bytes moved so far; the last event of a transfer has the total. */
      readonly bytes: number;
      readonly done: boolean;
    }
  | {
      readonly type: 'machine-snapshot';
      readonly at: Date;
      /** xstate's session id of the actor. */
      readonly actorId: string;
      /** The machine's id (workerConnection, remoteCommand…). */
      readonly machine: string;
      /** The state value, `JSON.stringify`d when nested. */
      readonly state: string;
      /** The attached worker whose connection this actor is, if it is one. */
      readonly worker?: string;
    };

export type FarmEventType = FarmEvent['type'];

/** The worker commands that move files: they end with their transfer's last progress. */
const TRANSFER_COMMANDS: ReadonlySet<string> = new Set(['uploadFile', 'uploadDirectory', 'downloadFile']);

/** The read side: what the dashboard and the metrics consume. */
export interface FarmEvents {
  /** Every event from now on (hot); pair it with `workers()` for the current state. */
  readonly events$: Observable<FarmEvent>;
  /** The attached workers now, by name. */
  workers(): readonly WorkerSummary[];
}

/** The write side, held by the service; a {@link FarmEvents} for everyone else. */
export class FarmEventBus implements FarmEvents {
  private readonly subject = new Subject<FarmEvent>();
  private readonly attached = new Map<string, WorkerSummary>();
  /** Commands started and not ended; a transfer ends with its last progress, after its command. */
  private readonly running = new Set<string>();
  /**
   * masterConnection session id → worker name, from the attach until the machine's `detached`
   * snapshot (which comes after the listener's detach event).
   */
  private readonly connectionActors = new Map<string, string>();

  get events$(): Observable<FarmEvent> {
    return this.subject.asObservable();
  }

  workers(): readonly WorkerSummary[] {
    return [...this.attached.values()].sort((left, right) => left.name.localeCompare(right.name));
  }

  publish(event: FarmEvent): void {
    if (event.type === 'command-started') this.running.add(event.commandId);
    else if (event.type === 'command-finished' && !TRANSFER_COMMANDS.has(event.command)) this.running.delete(event.commandId);
    else if (event.type === 'transfer-progress' && event.done) this.running.delete(event.commandId);
    else if (event.type === 'worker-attached') {
      this.attached.set(event.worker.name, event.worker);
      this.connectionActors.set(event.worker.machine, event.worker.name);
    } else if (event.type === 'worker-detached') this.attached.delete(event.name);
    this.subject.next(event);
  }

  /** Whether the command started and has not ended yet (a transfer: not sent its last progress). */
  isRunning(commandId: string): boolean {
    return this.running.has(commandId);
  }

  /** An xstate inspector that publishes every machine snapshot, for the listeners' `inspect`. */
  inspector(): (inspection: InspectionEvent) => void {
    return (inspection) => {
      if (inspection.type !== '@xstate.snapshot') return;
      const snapshot = inspection.snapshot as { value?: unknown; machine?: { id?: string } };
      if (snapshot.value === undefined) return;
      const value = snapshot.value;
      const actorId = inspection.actorRef.sessionId;
      const state = typeof value === 'string' ? value : JSON.stringify(value);
      const worker = this.connectionActors.get(actorId);
      const summary = worker === undefined ? undefined : this.attached.get(worker);
      // The connection machine's states are the ConnectionState values.
      if (summary?.machine === actorId) this.attached.set(summary.name, { ...summary, state: state as ConnectionState });
      if (worker !== undefined && state === 'detached') this.connectionActors.delete(actorId);
      this.publish({
        type: 'machine-snapshot',
        at: new Date(),
        actorId,
        machine: snapshot.machine?.id ?? 'unknown',
        state,
        ...(worker !== undefined ? { worker } : {}),
      });
    };
  }

  complete(): void {
    this.subject.complete();
  }
}
