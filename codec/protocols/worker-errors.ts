import { AmpStateError } from '../errors.js';

/**
 * Errors of the master/worker protocol, declared on its commands so they cross the wire with a
 * code (docs/master-worker-protocol.md §6) and come back as the same classes on the caller.
 */
export class LoginRefusedError extends AmpStateError {
  override readonly code = 'WORKER_ERR_LOGIN_REFUSED';
}

/** Anything but Login before Login: Buildbot's "Worker not authenticated.". */
export class NotAuthenticatedError extends AmpStateError {
  override readonly code = 'WORKER_ERR_NOT_AUTHENTICATED';
}

export class UnknownCommandIdError extends AmpStateError {
  override readonly code = 'WORKER_ERR_UNKNOWN_COMMAND_ID';
}

/** `unrecognized WorkerCommand 'x'` or `<Class> is missing args: a, b`, as Buildbot words them. */
export class CommandRejectedError extends AmpStateError {
  override readonly code = 'WORKER_ERR_COMMAND_REJECTED';
}

/** A transfer the master refused: a path outside its base directory, a failed write or unpack. */
export class TransferError extends AmpStateError {
  override readonly code = 'WORKER_ERR_TRANSFER';
}
