import { BehaviorSubject, Subject, concat, defer, of, type Observable } from 'rxjs';
import { SnapshotMap } from './snapshot-map.js';

/** What `workers$` emits: the current set first, then every attach and detach. */
export type RegistryEvent<C> =
  | { readonly type: 'snapshot'; readonly current: ReadonlyMap<string, C> }
  | { readonly type: 'attached'; readonly name: string; readonly connection: C; readonly current: ReadonlyMap<string, C> }
  | { readonly type: 'detached'; readonly name: string; readonly connection: C; readonly reason: Error; readonly current: ReadonlyMap<string, C> };

interface RegisteredConnection {
  readonly name: string;
  readonly state: string;
}

/**
 * A listener's workers, whatever the protocol: every logged-in connection by name (attaching ones
 * included, so duplicates are found), and the attached ones published as an rxjs Observable.
 */
export class WorkerRegistry<C extends RegisteredConnection> {
  /** Logged in, attached or still attaching. */
  readonly loggedIn = new Map<string, C>();
  /** Each event keeps its own snapshot; updates share structure, so N attaches cost far less than N copies. */
  private readonly attached = new BehaviorSubject<SnapshotMap<C>>(SnapshotMap.empty());
  private readonly events = new Subject<RegistryEvent<C>>();

  get current(): ReadonlyMap<string, C> {
    return this.attached.value;
  }

  /** A snapshot first, then every attach and detach. Completes when the listener stops. */
  get events$(): Observable<RegistryEvent<C>> {
    return defer(() => concat(of<RegistryEvent<C>>({ type: 'snapshot', current: this.current }), this.events));
  }

  /** The handshake finished: publish it, unless the connection was replaced or lost meanwhile. */
  publishAttached(connection: C): void {
    if (this.loggedIn.get(connection.name) !== connection || connection.state !== 'attached') return;
    const current = this.attached.value.with(connection.name, connection);
    this.attached.next(current);
    this.events.next({ type: 'attached', name: connection.name, connection, current });
  }

  withdraw(connection: C, reason: Error): void {
    if (this.loggedIn.get(connection.name) === connection) this.loggedIn.delete(connection.name);
    if (this.current.get(connection.name) !== connection) return;
    const current = this.attached.value.without(connection.name);
    this.attached.next(current);
    this.events.next({ type: 'detached', name: connection.name, connection, reason, current });
  }

  complete(): void {
    this.events.complete();
  }
}
