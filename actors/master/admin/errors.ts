/** The admin server's refusals, each with a stable code and the HTTP status it answers with. */
import { AmpStateError } from '../../../codec/errors.js';

export abstract class AdminError extends AmpStateError {
  abstract readonly status: number;
}

export class AdminUnauthorizedError extends AdminError {
  override readonly code = 'ADMIN_ERR_UNAUTHORIZED';
  readonly status = 401;
}

export class AdminBadRequestError extends AdminError {
  override readonly code = 'ADMIN_ERR_BAD_REQUEST';
  readonly status = 400;
}

export class UnknownWorkerError extends AdminError {
  override readonly code = 'ADMIN_ERR_UNKNOWN_WORKER';
  readonly status = 404;
}

export class AdminServerError extends AmpStateError {
  override readonly code = 'ADMIN_ERR_SERVER';
}

/** The worker cannot run trial workers: a stock Buildbot worker, or an ampstate worker without `trial_worker`. */
export class NoTrialSupportError extends AdminError {
  override readonly code = 'ADMIN_ERR_NO_TRIAL_SUPPORT';
  readonly status = 409;
}
