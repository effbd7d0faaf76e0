import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type { Logger } from '../logger.js';
import { temporaryServerCertificate, type TlsOptions } from '../tls-options.js';
import { asVerificationError, clientVerification, warnUnverified } from '../tls-verification.js';

export type TlsRole = 'client' | 'server';

/**
 * The settings a handshake will use. A TLS server must present a certificate: like Twisted, one
 * that was given none uses a temporary self-signed one. A TLS client told not to verify says so,
 * once for the connection.
 */
export async function tlsSettingsFor(role: TlsRole, options: TlsOptions, logger?: Logger): Promise<TlsOptions> {
  if (role === 'client' && options.verify === false && logger !== undefined) warnUnverified(logger, 'the StartTLS peer');
  if (role !== 'server' || options.cert !== undefined) return options;
  return { ...options, ...(await temporaryServerCertificate()) };
}

/**
 * Wraps a transport in TLS. The TLS role follows the TCP role, whoever asked for StartTLS. The
 * client verifies the server (docs/amp-protocol.md §4.1): against `ca` the chain only, as Twisted's
 * StartTLS does, unless a `servername` is given; against the platform's CAs the host name too.
 * The server asks for a client certificate only when given `ca`.
 */
export function wrapInTls(socket: Duplex, role: TlsRole, options: TlsOptions): tls.TLSSocket {
  const { cert, key, ca, secureContext } = options;
  const common = { ...secureContext, cert, key, ca: ca as tls.SecureContextOptions['ca'] };
  if (role === 'client') return tls.connect({ ...common, socket, ...clientVerification({ ...options, chainOnlyWithCa: true }) });
  const verifyClient = ca !== undefined;
  return new tls.TLSSocket(socket, {
    isServer: true,
    secureContext: tls.createSecureContext(common),
    requestCert: verifyClient,
    rejectUnauthorized: verifyClient,
  });
}

/**
 * Calls `settle` once with the handshake's first outcome. With TLS 1.3 a client's handshake
 * completes before the server has checked its certificate, so a later rejection arrives as an
 * error on an established socket and must not count twice.
 */
export function onHandshakeOutcome(socket: tls.TLSSocket, role: TlsRole, settle: (error?: Error) => void): void {
  let settled = false;
  socket.once(role === 'client' ? 'secureConnect' : 'secure', () => {
    if (settled) return;
    settled = true;
    settle();
  });
  socket.once('error', (error) => {
    if (settled) return;
    settled = true;
    settle(role === 'client' ? asVerificationError(error, 'the StartTLS peer') : error);
  });
}
