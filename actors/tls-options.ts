import { type PeerCertificate, type SecureContextOptions } from 'node:tls';

/**
 * Certificate options for StartTLS, Twisted's `tls_localCertificate` and `tls_verifyAuthorities`:
 * our certificate (optional for the TLS client, generated when a TLS server has none) and the CAs
 * the peer's certificate must chain to. A TLS client always verifies the server unless told not
 * to (docs/amp-protocol.md §4.1); a TLS server asks for a client certificate only when given `ca`.
 */
export interface TlsOptions {
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** The CAs the peer must chain to; without them a TLS client trusts the platform's CAs. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** TLS client: `false` accepts any server certificate (logged at warn). Default true. */
  readonly verify?: boolean;
  /**
   * TLS client: the name the server's certificate must carry (also sent as SNI). Default: the host
   * the transport connected to; with `ca` and no `servername`, only the chain is checked, as Twisted's
   * StartTLS does.
   */
  readonly servername?: string;
  /** Extra Node TLS settings (ciphers, minVersion…). */
  readonly secureContext?: SecureContextOptions;
}

export type { PeerCertificate };

let temporaryCertificate: Promise<{ cert: string; key: string }> | undefined;

/**
 * A TLS server must present a certificate. Like Twisted, a responder that supplies none gets a
 * temporary self-signed one ("TEMPORARY CERTIFICATE"); it is made once per process since it is slow.
 */
export function temporaryServerCertificate(): Promise<{ cert: string; key: string }> {
  temporaryCertificate ??= import('selfsigned').then(async ({ generate }) => {
    const pems = await generate([{ name: 'commonName', value: 'TEMPORARY CERTIFICATE' }], { keySize: 2048 });
    return { cert: pems.cert, key: pems.private };
  });
  return temporaryCertificate;
}
