/**
 * The worker side of the master/worker protocol: `ampstate/worker`. A `WorkerSession` connects to a
 * master, logs in and runs the commands it is sent; `runWorkerDaemon` is the `ampstate worker`
 * process around it (password file, `info/` files, signals, exit codes). See docs/master-worker-protocol.md.
 */
export {
  WorkerSession,
  DEFAULT_TRANSFER_WINDOW,
  type SessionClock,
  type WorkerSessionNotice,
  type WorkerSessionOptions,
  type WorkerSessionState,
  type WorkerSessionStopReason,
} from './session.js';
export {
  runWorkerDaemon,
  readPasswordFile,
  ensureInfoFiles,
  WORKER_EXIT,
  WorkerConfigError,
  type WorkerDaemonOptions,
} from './daemon.js';
export { ampstateVersion } from './version.js';
/** Crash recovery (docs/master-worker-protocol.md §3.6), which `runWorkerDaemon` does at startup; a bare WorkerSession does not. */
export {
  ProcessGroupLedger,
  PROCESS_GROUPS_FILE,
  type ProcessGroupEntry,
  type ProcessGroupRecorder,
  type ReapedGroup,
} from './process-group-ledger.js';
export { sweepStaleTempFiles, DEFAULT_SWEEP_LIMITS, type SweepLimits, type SweepResult } from './stale-temp-files.js';
/** The command implementations (`shell`, `stat`, `upload_file`, …), for running them without a master. */
export * as commandImplementations from './commands/index.js';
