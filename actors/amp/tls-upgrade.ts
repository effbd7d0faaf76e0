import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { temporaryServerCertificate, type TlsOptions } from '../tls-options.js';

export type TlsRole = 'client' | 'server';

/**
 * The settings a handshake will use. A TLS server must present a certificate: like Twisted, one
 * that was given none uses a temporary self-signed one.
 */
export async function tlsSettingsFor(role: TlsRole, options: TlsOptions): Promise<TlsOptions> {
  if (role !== 'server' || options.cert !== undefined) return options;
  return { ...options, ...(await temporaryServerCertificate()) };
}

/**
 * Wraps a transport in TLS. The TLS role follows the TCP role, whoever asked for StartTLS. Trust
 * roots, when given, make verification mandatory; Twisted checks the chain, never the host name.
 */
export function wrapInTls(socket: Duplex, role: TlsRole, options: TlsOptions): tls.TLSSocket {
  const { cert, key, ca, secureContext } = options;
  const verify = ca !== undefined;
  const common = { ...secureContext, cert, key, ca: ca as tls.SecureContextOptions['ca'] };
  if (role === 'client') {
    return tls.connect({ ...common, socket, rejectUnauthorized: verify, checkServerIdentity: () => undefined });
  }
  return new tls.TLSSocket(socket, {
    isServer: true,
    secureContext: tls.createSecureContext(common),
    requestCert: verify,
    rejectUnauthorized: verify,
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
    settle(error);
  });
}
