/**
 * The worker's `update` args as the master's RemoteCommand wants them (docs/master-worker-protocol.md §2.1). The msgpack
 * worker sends output as triples `[text, [offsets of '\n'], [epoch time of each line]]` and logs
 * as `[logName, triple]`; the master keeps only the text, as Buildbot's does. Plain strings (a
 * worker that does not batch lines) are taken as they are. Other keys pass through untouched.
 */
import type { UpdateEntry } from '../connection-api.js';
import { MalformedUpdateError } from './errors.js';

const OUTPUT_KEYS = new Set(['stdout', 'stderr', 'header']);

/** The text of an output value: the first element of a triple, or the string itself. */
function outputText(value: unknown): unknown {
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return value;
}

/** `[[key, value], …]` → UpdateEntry[]; throws MalformedUpdateError on anything else. */
export function updatesFromWire(args: unknown): UpdateEntry[] {
  if (!Array.isArray(args)) throw new MalformedUpdateError('"args" of an update must be a list of [key, value] pairs');
  return args.map((pair: unknown): UpdateEntry => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') {
      throw new MalformedUpdateError('"args" of an update must be a list of [key, value] pairs');
    }
    const [key, value] = pair as [string, unknown];
    if (OUTPUT_KEYS.has(key)) return [key, outputText(value)];
    if (key === 'log' && Array.isArray(value) && value.length === 2 && typeof value[0] === 'string') {
      return [key, [value[0], outputText(value[1])]];
    }
    return [key, value];
  });
}
