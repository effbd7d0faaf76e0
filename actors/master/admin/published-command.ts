/**
 * A command the admin API runs (a shell command, a file transfer) as the farm's event bus sees it:
 * `command-started` when it begins, `command-finished` with its result and duration when it ends.
 */
import type { RemoteCommandResult } from '../remote-command.js';
import type { FarmControl } from './farm-control.js';

export interface PublishedCommand {
  /** Publishes `command-finished` for the command's result. */
  finished(result: RemoteCommandResult): void;
}

/** Publishes `command-started` now; the caller reports the end through the returned handle. */
export function publishCommand(
  farm: FarmControl,
  started: { readonly commandId: string; readonly worker: string; readonly command: string; readonly summary: string },
): PublishedCommand {
  const { commandId, worker, command } = started;
  const startedAt = Date.now();
  farm.events.publish({ type: 'command-started', at: new Date(), ...started });
  return {
    finished(result) {
      const failure = result.failure?.message;
      farm.events.publish({
        type: 'command-finished',
        at: new Date(),
        commandId,
        worker,
        command,
        rc: result.rc,
        results: result.results,
        durationMs: Date.now() - startedAt,
        ...(failure !== undefined ? { failure } : {}),
      });
    },
  };
}
