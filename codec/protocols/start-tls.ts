import { defineCommand } from '../command.js';

/**
 * Twisted's StartTLS: no wire arguments and no wire response. The certificate options are
 * local-only: the caller passes them to `startTLS`, the responder returns them from its handler.
 */
export const StartTLS = defineCommand({ name: 'StartTLS' });
