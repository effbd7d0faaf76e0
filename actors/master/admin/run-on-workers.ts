/**
 * Runs one shell command on several workers at once for the admin API, yielding the output and
 * the end of each as one merged stream of {@link ExecEvent}s that the API writes out as NDJSON.
 * (The farm's event bus hears of them as of any command, through the diagnostic channels.)
 */
import { Observable, merge } from 'rxjs';
import { RemoteCommand } from '../remote-command.js';
import { EXCEPTION, RESULT_NAMES } from '../results.js';
import { ADMIN_BUILDER, ADMIN_WORKDIR, type FarmControl } from './farm-control.js';
import type { OutputStream } from './farm-events.js';

export type ExecEvent =
  | { readonly type: 'output'; readonly worker: string; readonly stream: OutputStream; readonly text: string }
  | {
      readonly type: 'finished';
      readonly worker: string;
      readonly rc: number | null;
      readonly results: number;
      readonly result: string;
      readonly failure?: string;
    };

export interface ExecRequest {
  /** argv (run without a shell) or one shell command line. */
  readonly command: string | readonly string[];
  readonly workers: readonly string[];
  /** Seconds without output after which the worker kills the command; default none. */
  readonly timeout?: number;
}

/** One worker's run as events; completes after its `finished`. */
function runOn(farm: FarmControl, worker: string, request: ExecRequest): Observable<ExecEvent> {
  return new Observable<ExecEvent>((subscriber) => {
    const connection = farm.connection(worker);
    if (connection === undefined) {
      subscriber.next({ type: 'finished', worker, rc: null, results: EXCEPTION, result: RESULT_NAMES[EXCEPTION], failure: `worker '${worker}' is not attached` });
      subscriber.complete();
      return;
    }
    const remote = new RemoteCommand(
      'shell',
      { command: request.command, workdir: ADMIN_WORKDIR, logEnviron: false, timeout: request.timeout ?? null },
      { logger: farm.logger },
    );
    remote.updates$.subscribe(({ key, value }) => {
      if (key !== 'stdout' && key !== 'stderr' && key !== 'header') return;
      subscriber.next({ type: 'output', worker, stream: key, text: String(value) });
    });
    void remote.run(connection, ADMIN_BUILDER).then((result) => {
      const failure = result.failure?.message;
      subscriber.next({ type: 'finished', worker, rc: result.rc ?? null, results: result.results, result: RESULT_NAMES[result.results], ...(failure !== undefined ? { failure } : {}) });
      subscriber.complete();
    });
    // A client that goes away stops its commands: nobody would read their output.
    return () => void remote.interrupt('the admin client disconnected');
  });
}

/** Every worker's events, interleaved as they come; completes once every worker has finished. */
export function runOnWorkers(farm: FarmControl, request: ExecRequest): Observable<ExecEvent> {
  return merge(...request.workers.map((worker) => runOn(farm, worker, request)));
}
