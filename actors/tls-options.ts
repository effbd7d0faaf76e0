import { type PeerCertificate, type SecureContextOptions } from 'node:tls';

/**
 * Certificate options for StartTLS, Twisted's `tls_localCertificate` and `tls_verifyAuthorities`:
 * our certificate (optional for the TLS client, generated when a TLS server has none) and the CAs
 * the peer's certificate must chain to (when given, verification is required).
 */
export interface TlsOptions {
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
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
