/** The dashboard's refusals; the admin server answers them with their status and code. */
import { AdminError } from '../admin/errors.js';

export class DashboardNotFoundError extends AdminError {
  override readonly code = 'DASHBOARD_ERR_NOT_FOUND';
  readonly status = 404;
}

/** The front end was not built (`npm run build` compiles it into dist/dashboard/). */
export class DashboardAssetMissingError extends AdminError {
  override readonly code = 'DASHBOARD_ERR_NOT_BUILT';
  readonly status = 500;
  constructor(directory: string) {
    super(`the dashboard's front end is not built: no main.js in ${directory}`);
  }
}
