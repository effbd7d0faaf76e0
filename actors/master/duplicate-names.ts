import { LoginRefusedError } from '../../codec/protocols/worker-errors.js';
import type { Logger } from '../logger.js';
import { withDeadline } from '../deadline.js';
import type { Connection } from './connection-api.js';

/**
 * What a listener does when a worker name logs in twice, whatever the protocol: logins for one name
 * are settled one at a time, and an old connection is pinged (Buildbot's rule) to decide who stays.
 */
export class DuplicateNames {
  private readonly arbitration = new Map<string, Promise<void>>();

  constructor(
    private readonly logger: Logger,
    private readonly pingTimeoutMs: () => number,
  ) {}

  /** Runs `work` after every earlier login of `name`, so two newcomers cannot both beat one old connection. */
  async serialise<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.arbitration.get(name) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const chained = previous.then(() => mine);
    this.arbitration.set(name, chained);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.arbitration.get(name) === chained) this.arbitration.delete(name);
    }
  }

  /**
   * Pings the old connection: if it answers it is alive and the newcomer is refused; if it fails or
   * stays silent it is dead, so it is aborted and the newcomer let in.
   */
  async settle(name: string, old: Connection & { readonly detached: Promise<unknown> }): Promise<void> {
    const timeoutMs = this.pingTimeoutMs();
    let alive: boolean;
    try {
      await withDeadline(old.remotePrint('master got a duplicate connection'), timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
      alive = true;
    } catch (error) {
      alive = false;
      this.logger.info({ worker: name, reason: (error as Error).message }, 'old connection failed its ping; accepting the new one');
    }
    if (alive) throw new LoginRefusedError(`worker '${name}' is already connected (its connection answered a ping)`);
    old.loseConnection();
    await old.detached;
  }
}
