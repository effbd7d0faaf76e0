/**
 * How a TLS client checks the server's certificate (docs/amp-protocol.md §4.1). By default, as
 * Twisted's `optionsForClientTLS` does: the chain must lead to the given trust roots, or else to the
 * platform's (Node's bundled CA list), and the certificate must name the host. Opting out is
 * explicit (`verify: false`, `verify=no`) and logged.
 */
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import { AmpStateError } from '../codec/errors.js';
import type { Logger } from './logger.js';
import type { TlsOptions } from './tls-options.js';

/** The server's certificate did not verify: an untrusted chain, or a name it does not carry. */
export class TlsVerificationError extends AmpStateError {
  override readonly code = 'AMP_ERR_TLS_VERIFY';
  constructor(
    /** Where we connected, as the caller named it (an endpoint string, a host). */
    readonly target: string,
    /** OpenSSL's or Node's reason, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`, `ERR_TLS_CERT_ALTNAME_INVALID`. */
    readonly reason: string,
    cause: Error,
  ) {
    super(`the TLS certificate of ${target} did not verify (${reason}): ${cause.message}`, { cause });
  }
}

/** The codes OpenSSL gives a chain it will not trust, and Node a certificate naming another host. */
const VERIFICATION_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A handshake error, as the verification failure it may be. */
export function asVerificationError(error: Error, target: string): Error {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && VERIFICATION_CODES.has(code) ? new TlsVerificationError(target, code, error) : error;
}

export type ClientVerificationOptions = Pick<TlsOptions, 'ca' | 'verify' | 'servername'> & {
  /**
   * Check the chain only, not the name, when no `servername` is given: Twisted's StartTLS with
   * `tls_verifyAuthorities`. Applies only with `ca`; against the platform's CAs, which vouch for
   * anyone's own domain, a chain alone proves nothing.
   */
  readonly chainOnlyWithCa?: boolean;
};

type ClientSettings = Pick<tls.ConnectionOptions, 'ca' | 'rejectUnauthorized' | 'checkServerIdentity' | 'servername'>;

/** Node's client settings for a verification policy. Without `servername`, Node checks the host connected to. */
export function clientVerification(options: ClientVerificationOptions): ClientSettings {
  if (options.verify === false) return { rejectUnauthorized: false, checkServerIdentity: () => undefined };
  const ca = options.ca as tls.ConnectionOptions['ca'];
  const name = options.servername;
  if (name !== undefined) {
    // SNI carries host names only (RFC 6066); an address is still checked against the certificate.
    return {
      ca,
      rejectUnauthorized: true,
      checkServerIdentity: (_host, certificate) => tls.checkServerIdentity(name, certificate),
      ...(isIP(name) === 0 ? { servername: name } : {}),
    };
  }
  if (options.chainOnlyWithCa === true && ca !== undefined) return { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return { ca, rejectUnauthorized: true };
}

/** The one warn line of a client that accepts any certificate. */
export function warnUnverified(logger: Logger, target: string): void {
  const consequence = 'anyone in between can read and change the traffic';
  logger.warn({ target, verify: false }, `TLS to ${target} without certificate verification: ${consequence}`);
}
