/**
 * A {@link FarmControl} over running master listeners: their workers and refusals feed a
 * {@link FarmEventBus}, and so do the commands and transfers run on their workers. The master
 * service builds one; so can any program that runs an AmpListener itself (the demo farm) and wants
 * the admin server on top.
 */
import type { Observable, Subscription } from 'rxjs';
import type { Logger } from '../../logger.js';
import type { Refusal } from '../../refusals.js';
import type { BaseConnection } from '../base-connection.js';
import type { Connection, WorkerInfo } from '../connection-api.js';
import type { RegistryEvent } from '../worker-registry.js';
import type { FarmControl } from './farm-control.js';
import { feedFromDiagnosticChannels } from './diagnostic-channel-feed.js';
import { FarmEventBus, type WorkerProtocol } from './farm-events.js';

/** What is watched of a listener (AmpListener and MsgpackListener both fit). */
export interface WatchedListener {
  readonly current: ReadonlyMap<string, BaseConnection>;
  readonly workers$: Observable<RegistryEvent<BaseConnection>>;
  readonly refusals$: Observable<Refusal>;
}

/** The worker's environment may hold secrets: it stays out of what the API and dashboard show. */
function withoutEnvironment(info: WorkerInfo | undefined): WorkerInfo | undefined {
  if (info === undefined) return undefined;
  const { environ: _environ, ...rest } = info;
  return rest;
}

export class ListenerFarm implements FarmControl {
  readonly events = new FarmEventBus();
  private readonly listeners: WatchedListener[] = [];
  private readonly subscriptions: Subscription[] = [];
  private readonly unsubscribeChannels: () => void;

  constructor(
    readonly stagingDirectory: string,
    readonly logger: Logger,
  ) {
    // Commands and transfers on this farm's connections only: other masters may share the process.
    this.unsubscribeChannels = feedFromDiagnosticChannels(this.events, (worker, connection) => this.connection(worker) === connection);
  }

  connection(name: string): Connection | undefined {
    for (const listener of this.listeners) {
      const connection = listener.current.get(name);
      if (connection !== undefined) return connection;
    }
    return undefined;
  }

  attachedNames(): readonly string[] {
    return this.events.workers().map((worker) => worker.name);
  }

  /** Publishes the listener's attaches, detaches and refusals from now on. */
  watch(protocol: WorkerProtocol, listener: WatchedListener): void {
    this.listeners.push(listener);
    this.subscriptions.push(
      listener.workers$.subscribe((event) => {
        const attached = event.type === 'snapshot' ? [...event.current.values()] : event.type === 'attached' ? [event.connection] : [];
        for (const connection of attached) {
          this.events.publish({
            type: 'worker-attached',
            at: new Date(),
            worker: {
              name: connection.name,
              protocol,
              state: connection.state,
              builders: [...connection.builders.keys()],
              machine: connection.machine.sessionId,
              info: withoutEnvironment(connection.info),
              attachedAt: new Date(),
            },
          });
        }
        if (event.type === 'detached') this.events.publish({ type: 'worker-detached', at: new Date(), name: event.name, reason: event.reason.message });
      }),
      listener.refusals$.subscribe((refusal) => this.events.publish({ type: 'refusal', at: refusal.at, refusal })),
    );
  }

  close(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.unsubscribeChannels();
    this.events.complete();
  }
}
