import { AmpStateError } from '../../codec/errors.js';

/**
 * Errors of the trial manager and worker, each with a stable `code`. Some are also used as the
 * class of a synthetic test error (`errorClass` `ampstate.trial.<Name>`) when the manager must report
 * a test whose outcome never arrived: a result is never lost silently.
 */
export class TrialError extends AmpStateError {
  override readonly code: string = 'TRIAL_ERR';
}

/** The Python interpreter cannot import Twisted's trial (or could not be run at all). */
export class TwistedNotFoundError extends TrialError {
  override readonly code = 'TRIAL_ERR_TWISTED_NOT_FOUND';
  constructor(
    readonly python: string,
    detail: string,
  ) {
    super(`cannot use ${python} for trial workers: ${detail}`);
  }
}

/** The helper that expands names into test ids failed. */
export class TestListingError extends TrialError {
  override readonly code = 'TRIAL_ERR_LISTING';
}

/** A worker process could not be started (its executable is missing or not executable, …). */
/** `run()` was called a second time: a manager runs one suite once. */
export class ManagerAlreadyRanError extends TrialError {
  override readonly code = 'TRIAL_ERR_ALREADY_RAN';
  constructor() {
    super('a TrialManager runs once; make a new one for another run');
  }
}

export class WorkerSpawnError extends TrialError {
  override readonly code = 'TRIAL_ERR_SPAWN';
  constructor(
    readonly worker: number,
    readonly executable: string,
    cause: Error,
  ) {
    super(`cannot start trial worker ${worker}: ${executable}: ${cause.message}`, { cause });
  }
}

/** A worker process ended (or its pipes broke) while the manager still needed it. */
export class WorkerDiedError extends TrialError {
  override readonly code = 'TRIAL_ERR_WORKER_DIED';
}

/** Another run holds the lock of a custom temp directory (no `-N` suffixes are tried then). */
export class WorkingDirectoryBusyError extends TrialError {
  override readonly code = 'TRIAL_ERR_DIRECTORY_BUSY';
}

/** The temp directory exists but was not made by trial (no `_trial_marker`): we refuse to wipe it. */
export class NoTrialMarkerError extends TrialError {
  override readonly code = 'TRIAL_ERR_NO_MARKER';
}

/** The result used the other dialect than the one the manager was told to speak. */
export class DialectMismatchError extends TrialError {
  override readonly code = 'TRIAL_ERR_DIALECT';
}

/** Class names reported for tests whose outcome the manager had to make up. */
export const SYNTHETIC_ERROR_CLASSES = {
  /** The Run was answered but no outcome was reported (22.4: a result over 64 KiB, docs/trial-protocol.md §5). */
  noOutcome: 'ampstate.trial.NoOutcomeReported',
  /** The worker process died or its connection broke while the test was running. */
  workerDied: 'ampstate.trial.WorkerDied',
  /** Every worker died before this test could be handed out. */
  noWorker: 'ampstate.trial.NoWorkerLeft',
} as const;

/**
 * A trial worker on a farm worker (FarmWorkerHost) could not start or run: the master refused
 * (token, unknown worker, no `trial_worker` support: `serverCode` says which), or the farm
 * worker failed the command. The message is the master's, naming the farm worker.
 */
export class FarmWorkerError extends TrialError {
  override readonly code: string = 'TRIAL_ERR_FARM_WORKER';
  constructor(
    readonly worker: string,
    message: string,
    /** The admin API's code (`ADMIN_ERR_UNAUTHORIZED`, `ADMIN_ERR_NO_TRIAL_SUPPORT`, …), when it refused. */
    readonly serverCode?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The farm worker's Python cannot import some of the test names (its import check failed). */
export class FarmImportError extends FarmWorkerError {
  override readonly code = 'TRIAL_ERR_FARM_IMPORT';
  constructor(
    worker: string,
    message: string,
    readonly failures: readonly { readonly name: string; readonly reason: string }[],
  ) {
    super(worker, message);
  }
}
