import type { Duplex, Readable } from 'node:stream';

/** How a trial worker process ended, wherever it ran. */
export interface WorkerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * Where one trial worker process runs: a child of the manager (LocalWorkerHost) or a child of a
 * farm worker, reached through the master's admin API (FarmWorkerHost). The manager treats every
 * worker the same way: it speaks AMP over `amp` and reads the rest from here.
 */
export interface TrialWorkerHost {
  /** Resolves once the process is up; rejects with a WorkerSpawnError (or a farm error) when it can't start. */
  readonly spawned: Promise<void>;
  /** Resolves once the process has ended (or its host is gone) and `amp`, stdout and stderr have ended. */
  readonly exited: Promise<WorkerExit>;
  /** The worker's fd 4 to read and fd 3 to write; `end()` closes fd 3 (the worker exits at EOF). */
  readonly amp: Duplex;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** The pid on its own host, once known. */
  readonly pid: number | undefined;
  /** Where it runs, for messages: `local` or `farm worker w1`. */
  readonly where: string;
  /** The host's own account of an abnormal end (a farm worker that disconnected, …), once known. */
  readonly failure: string | undefined;
  /** The directory to send in Start, as the worker's host sees it (made before `spawned` resolves). */
  readonly startDirectory: string;
  /** Kill the process now (SIGKILL locally; the farm worker interrupts its command). */
  kill(): void;
}
