/**
 * What the admin server needs from a running master: its attached workers, the event bus it
 * reports to, and where transfers stage their files. The service provides it; a test or an
 * embedding program can build one around its own listener.
 */
import type { Logger } from '../../logger.js';
import type { Connection } from '../connection-api.js';
import type { FarmEventBus } from './farm-events.js';

/** The builder every worker of the service gets, in which admin commands and transfers run. */
export const ADMIN_BUILDER = 'admin';
/** The directory (relative to the builder's) where commands run and transfer paths start. */
export const ADMIN_WORKDIR = 'build';

export interface FarmControl {
  readonly events: FarmEventBus;
  /** The attached worker of that name, if any. */
  connection(name: string): Connection | undefined;
  /** The names of the attached workers. */
  attachedNames(): readonly string[];
  /** Where files moving between the terminal and a worker are staged; confined there. */
  readonly stagingDirectory: string;
  readonly logger: Logger;
}
