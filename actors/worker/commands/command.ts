/**
 * The contract between worker-side commands and the session layer that carries them to a master.
 *
 * Commands never see the wire: they report through a {@link CommandChannel}, which the session
 * maps to ops keyed by command id (`update`, `update_upload_file_write`, ...). The semantics are
 * Buildbot's (docs/master-worker-protocol.md §2–§4); see `registry.ts` for how a command is started.
 */
import type { Logger } from 'pino';
import type { OutputBufferOptions } from './output-buffer.js';
import type { ProcessGroupRecorder } from '../process-group-ledger.js';

import type { UpdateEntry } from '../../../codec/protocols/worker-commands.js';

export type { UpdateEntry };

/** What a running command can do to its master. The session layer maps these to wire ops keyed by command id. */
export interface CommandChannel {
  /**
   * Send one batch of updates now, as one wire `update`. Output text (stdout/stderr/header/log)
   * has already been cut into whole lines and batched by the command's {@link OutputBuffer}, so
   * the session must not buffer again (that would add a second `buffer_timeout` of latency).
   * Settles (never rejects) once the master has acknowledged the update or it failed: a command
   * may wait on that to keep its output from piling up (backpressure). True when the master took
   * every entry: a command whose updates form a byte stream (`trial_amp`) must stop on false.
   */
  sendUpdate(entries: readonly UpdateEntry[]): Promise<boolean>;
  /** Master-side FileWriter (uploads). Each promise resolves when the master acked. */
  writeBlock(data: Buffer): Promise<void>;
  /**
   * Once a `writeBlock` promise resolves, the channel may still read at most this many of the most
   * recent bytes given to it (blocks in flight, still referenced); older ones the caller may
   * overwrite. 0: `writeBlock` has copied its data. Unset: the channel may keep any block.
   */
  readonly retainedBytes?: number;
  closeWriter(): Promise<void>;
  utime(accessTime: number, modifiedTime: number): Promise<void>;
  unpack(): Promise<void>;
  /**
   * Master-side FileReader (downloads). An empty Buffer means EOF. The block may be leased from the
   * connection's read slab: release it (`releaseView`, codec/slab-leases.ts) once it is written, or
   * that slab is never read into again.
   */
  readBlock(maxLength: number): Promise<Buffer>;
  closeReader(): Promise<void>;
}

export interface CommandEnvironment {
  /** The worker base directory; rmdir and cpdir run their helper processes there. */
  basedir: string;
  /** The worker process's environment: the base of every child environment and of `${VAR}` expansion. */
  environ: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Line splitting and batching; the master may change these with `set_worker_settings`. */
  output?: OutputBufferOptions;
  /** Records the process groups commands start, for reaping after a crash; unset, nothing is recorded. */
  processGroups?: ProcessGroupRecorder;
}

export interface RunningCommand {
  /**
   * Resolves when the command is done and all its output was handed to the channel (the caller
   * then sends `complete(null)`); rejects with the failure (the caller sends `complete(String(err))`).
   */
  readonly done: Promise<void>;
  /** The master's `interrupt_command`: flushes buffered output, then stops the command (docs/master-worker-protocol.md §4). */
  interrupt(why: string): void;
  /** Kill everything now and send nothing more (connection lost). `done` still settles. */
  kill(): void;
  /**
   * The master's `CommandInput` (an ampstate extension): resolves once `data` was written to the
   * command's input; an empty `data` closes it. Commands without input leave it unset.
   */
  input?(data: Buffer): Promise<void>;
}

export type CommandFactory = (
  args: Record<string, unknown>,
  channel: CommandChannel,
  env: CommandEnvironment,
) => RunningCommand;

/** Reported for every command in `worker_commands`; the version of upstream Buildbot HEAD whose semantics we follow. */
export const WORKER_COMMAND_VERSION = '3.3';
