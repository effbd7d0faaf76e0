/**
 * A command the master runs on its own behalf (Buildbot's BasicRemoteCommand): the listdir, stat,
 * rmdir and mkdir of remoteSetBuilderList, which a msgpack worker cannot do itself because it has
 * no notion of builders. It keeps the first value of each update key and the worker's text, and
 * settles on `complete`.
 */
import { RemoteCommandImpl, type UpdateEntry } from '../connection-api.js';

export interface InternalCommandResult {
  readonly rc: number | undefined;
  /** The first value of each key (output keys excluded). */
  readonly updates: ReadonlyMap<string, unknown>;
  /** header and stderr text, for error messages. */
  readonly text: string;
  /** The worker's failure text, if it completed with one. */
  readonly failure: string | undefined;
}

export class InternalCommand extends RemoteCommandImpl {
  readonly done: Promise<InternalCommandResult>;
  private readonly updates = new Map<string, unknown>();
  private text = '';
  private rc: number | undefined;
  private resolveDone!: (result: InternalCommandResult) => void;

  constructor(readonly commandName: string) {
    super();
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  remoteUpdate(updates: readonly UpdateEntry[]): void {
    for (const [key, value] of updates) {
      if (key === 'header' || key === 'stderr') this.text += String(value);
      else if (key === 'rc') this.rc ??= typeof value === 'number' ? value : Number(value);
      else if (key !== 'stdout' && !this.updates.has(key)) this.updates.set(key, value);
    }
  }

  remoteComplete(failure: string | undefined): void {
    this.resolveDone({ rc: this.rc, updates: this.updates, text: this.text, failure });
  }
}
