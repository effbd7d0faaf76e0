/**
 * Errors of the master side. Each has a stable `code`; the ones a worker can provoke through a
 * transfer are sent to it as the protocol's TransferError, with the same message.
 */
import { AmpStateError } from '../../codec/errors.js';

/** The worker went away while a command ran: Buildbot's RETRY (the build is re-queued). */
export class WorkerDisconnectedError extends AmpStateError {
  override readonly code = 'WORKER_ERR_DISCONNECTED';
  constructor(
    readonly workerName: string,
    options?: ErrorOptions,
  ) {
    super(`worker '${workerName}' disconnected`, options);
  }
}

/** The worker completed the command with a failure (the step becomes EXCEPTION). */
export class RemoteCommandFailedError extends AmpStateError {
  override readonly code = 'WORKER_ERR_COMMAND_FAILED';
  constructor(
    readonly commandName: string,
    readonly failure: string,
  ) {
    super(`remote command '${commandName}' failed: ${failure}`);
  }
}

/** No keepalive answer within the deadline: the peer is gone (or a NAT forgot us). */
export class KeepaliveTimeoutError extends AmpStateError {
  override readonly code = 'WORKER_ERR_KEEPALIVE_TIMEOUT';
  constructor(
    readonly workerName: string,
    readonly timeoutMs: number,
  ) {
    super(`worker '${workerName}' did not answer a keepalive within ${timeoutMs} ms; dropping it`);
  }
}

/** A path that would leave the directory it is confined to. Nothing was written or sent. */
export class PathEscapeError extends AmpStateError {
  override readonly code = 'WORKER_ERR_PATH_ESCAPE';
  constructor(
    readonly path: string,
    readonly base: string,
  ) {
    super(`path '${path}' escapes its base directory '${base}'`);
  }
}

/** A tar entry that would land outside the destination, or a kind of entry we never extract. */
export class UnsafeArchiveError extends AmpStateError {
  override readonly code = 'WORKER_ERR_UNSAFE_ARCHIVE';
  constructor(
    readonly entry: string,
    readonly reason: string,
  ) {
    super(`refusing to unpack archive entry '${entry}': ${reason}`);
  }
}

/** The archive itself could not be read (truncated, corrupt, wrong compression). */
export class UnpackError extends AmpStateError {
  override readonly code = 'WORKER_ERR_UNPACK';
}

/** A FileWriter/FileReader call its state does not allow (a write after close, a read after cancel). */
export class TransferStateError extends AmpStateError {
  override readonly code = 'WORKER_ERR_TRANSFER_STATE';
  constructor(
    readonly operation: string,
    readonly state: string,
  ) {
    super(`cannot ${operation} a transfer that is ${state}`);
  }
}

/** A command for a builder the worker was never given with remoteSetBuilderList. */
export class UnknownBuilderError extends AmpStateError {
  override readonly code = 'WORKER_ERR_UNKNOWN_BUILDER';
  constructor(
    readonly workerName: string,
    readonly builderName: string,
  ) {
    super(`worker '${workerName}' has no builder '${builderName}'; call remoteSetBuilderList first`);
  }
}

/** Something that needs the worker info before remoteGetWorkerInfo has answered. */
export class WorkerInfoMissingError extends AmpStateError {
  override readonly code = 'WORKER_ERR_INFO_MISSING';
  constructor(readonly workerName: string) {
    super(`no worker info for '${workerName}' yet; the handshake has not finished`);
  }
}

/** The same command id twice on one connection: updates would go to the wrong command. */
export class DuplicateCommandIdError extends AmpStateError {
  override readonly code = 'WORKER_ERR_DUPLICATE_COMMAND_ID';
  constructor(readonly commandId: string) {
    super(`command id '${commandId}' is already running on this connection`);
  }
}

/** A RemoteCommand can run once. */
export class CommandAlreadyRunError extends AmpStateError {
  override readonly code = 'WORKER_ERR_COMMAND_ALREADY_RUN';
  constructor(readonly commandName: string) {
    super(`remote command '${commandName}' was already run`);
  }
}

/** A master-side source file for a download that cannot be read. */
export class TransferSourceError extends AmpStateError {
  override readonly code = 'WORKER_ERR_TRANSFER_SOURCE';
  constructor(
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super(`Cannot open file '${path}' for download`, options);
  }
}
