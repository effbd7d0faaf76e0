import type { Duplex } from 'node:stream';
import { AmpStateError } from '../../codec/errors.js';
import type { Logger } from '../logger.js';
import { reportPeerFault } from '../peer-fault-log.js';
import { peerAddress } from '../refusals.js';

/**
 * Errors, among those that end a connection as unhandled, that describe what the peer sent
 * (arguments that do not decode or are missing, a fire-and-forget command nobody handles) rather
 * than a responder's own failure. Twisted logs both as unhandled errors; we log the peer's as
 * protocol errors (actors/peer-fault-log.ts), so that a peer cannot buy a stack trace in our log
 * for a few bytes. Framing errors are the peer's by definition and never get here.
 */
const PEER_FAULT_CODES = new Set([
  'AMP_ERR_INVALID_ARGUMENT',
  'AMP_ERR_MISSING_ARGUMENT',
  'AMP_ERR_INVALID_VALUE',
  'AMP_ERR_UNHANDLED_COMMAND',
]);

export function isPeerFault(error: Error): boolean {
  return error instanceof AmpStateError && PEER_FAULT_CODES.has(error.code);
}

const peerOf = (transport: Duplex) => () => peerAddress(transport as { remoteAddress?: string; remotePort?: number });

/** A protocol violation by the peer (bad framing, an unknown answer tag, a box with no kind). */
export function logProtocolError(logger: Logger, className: string, error: Error, transport: Duplex): void {
  reportPeerFault(logger, `protocol error in ${className}: dropping connection`, error, peerOf(transport));
}

/** Twisted's "Unhandled Error" line, with its stack; for a request the peer got wrong, a protocol error. */
export function logUnhandledError(logger: Logger, className: string, reason: Error, transport: Duplex): void {
  if (isPeerFault(reason)) reportPeerFault(logger, `bad request in ${className}: dropping connection`, reason, peerOf(transport));
  else logger.error({ err: reason }, `Unhandled Error in ${className}: dropping connection`);
}
