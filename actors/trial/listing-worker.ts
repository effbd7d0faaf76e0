/**
 * The manager's first local Python worker doubles as the test lister: `list_tests.py --then-work`
 * lists the tests, writes the listing to its fd 5, then becomes a trial worker in the same process
 * (docs/trial-protocol.md §1.1, "the listing worker"). The run starts one Python process fewer,
 * and that worker does not import the test modules a second time.
 */
import { sourceAsset } from './assets.js';
import { TwistedNotFoundError } from './errors.js';
import { LocalWorkerHost } from './local-worker-host.js';
import { listingFailure, parseTestList, stderrDetail, type PythonTestList } from './python-env.js';

export interface ListingWorkerOptions {
  readonly index: number;
  readonly python: string;
  readonly names: readonly string[];
  /** What the other workers get after `workertrial.py` (`--force-gc`, …). */
  readonly workerArguments: readonly string[];
  /** The user's environment: the listing runs as `list_tests.py` alone would. */
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly directory: string;
}

export interface ListingWorker {
  readonly host: LocalWorkerHost;
  /** The tests, once fd 5 has ended; rejects as listPythonTests does when the listing failed. */
  readonly listing: Promise<PythonTestList>;
  /** Still listing: it reads fd 3 only afterwards, so closing fd 3 does not stop it yet. */
  readonly listingNow: boolean;
}

/**
 * Worker options that act after the test modules are imported just as before it, so a worker may
 * list first. `--reactor` must come before any import of the reactor, `--without-module` before
 * the imports it blocks, `--coverage` before the lines it counts: with those, the tests are listed
 * in a process of their own.
 */
const OPTIONS_SAFE_AFTER_LISTING = new Set(['--force-gc', '--disablegc', '--recursionlimit']);

/** Whether a worker with these options (workertrial.py's) may list the tests before it works. */
export function canListFirst(workerArguments: readonly string[]): boolean {
  for (let i = 0; i < workerArguments.length; i++) {
    const option = workerArguments[i]!;
    const name = option.split('=')[0]!;
    if (!OPTIONS_SAFE_AFTER_LISTING.has(name)) return false;
    // `--recursionlimit N`: the value is the next argument.
    if (name === '--recursionlimit' && !option.includes('=')) i++;
  }
  return true;
}

/** Bytes of stderr kept for the error of a failed listing. */
const STDERR_TAIL = 4000;

/**
 * Starts the listing worker. Its stderr is also read here (for a failed listing's error), so
 * whoever logs the worker's stderr must attach in the same tick, before any output arrives.
 */
export function spawnListingWorker(options: ListingWorkerOptions): ListingWorker {
  const argv = [options.python, sourceAsset('list_tests.py'), '--then-work', String(options.workerArguments.length), ...options.workerArguments, ...options.names];
  const host = new LocalWorkerHost({ index: options.index, argv, env: options.env, cwd: options.cwd, directory: options.directory, listingPipe: true });
  let stderr = '';
  host.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL)));
  // `listingPipe: true` above: the host has fd 5.
  const fd5 = host.listing!;
  const listing = new Promise<PythonTestList>((resolve, reject) => {
    // A Python that cannot start is reported as without the listing worker: it cannot run trial.
    host.spawned.catch((error: Error) => reject(new TwistedNotFoundError(options.python, error.cause instanceof Error ? error.cause.message : error.message)));
    let text = '';
    fd5.setEncoding('utf8');
    fd5.on('data', (chunk: string) => (text += chunk));
    fd5.once('error', () => undefined);
    fd5.once('close', () => {
      if (text.trim() !== '') {
        try {
          resolve(parseTestList(text));
        } catch (error) {
          reject(error as Error);
        }
        return;
      }
      // No listing: the process is ending; its stderr says why once it has.
      void host.exited.then((exit) => reject(listingFailure(options.python, stderrDetail(stderr) || `list_tests.py exited (${exit.signal ?? `status ${exit.code}`}) without a listing`)));
    });
  });
  return {
    host,
    listing,
    // fd 5 closes once the listing is written (or the process is gone).
    get listingNow() {
      return !fd5.closed;
    },
  };
}
