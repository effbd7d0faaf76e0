/**
 * A TLS client verifies by default (issue #12 item 6, docs/amp-protocol.md §4.1): the chain against
 * the trust roots or else the platform's CAs, and the host name; opting out is explicit and warned.
 * Certificates are made here (self-signed, each its own trust root), servers listen on loopback.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino, type Logger } from 'pino';
import { EndpointSyntaxError, parseClientEndpoint } from '../../actors/endpoint.js';
import { connect, listen, type AmpServer } from '../../actors/connect.js';
import { responders } from '../../actors/responders.js';
import { TlsVerificationError } from '../../actors/tls-verification.js';
import { Hello, greet } from '../fixtures/commands.js';
import { temporaryDirectory } from '../support/temp-directory.js';

interface Pem {
  readonly cert: string;
  readonly key: string;
  readonly certPath: string;
  readonly keyPath: string;
}

/** A self-signed certificate that can vouch for itself, naming `names` (DNS) and `ips`. */
async function certificate(directory: string, label: string, names: string[], ips: string[]): Promise<Pem> {
  const pems = await generate([{ name: 'commonName', value: label }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: [...names.map((value) => ({ type: 2 as const, value })), ...ips.map((ip) => ({ type: 7 as const, ip }))] },
    ],
  });
  const certPath = join(directory, `${label}.pem`);
  const keyPath = join(directory, `${label}.key`);
  writeFileSync(certPath, pems.cert);
  writeFileSync(keyPath, pems.private);
  return { cert: pems.cert, key: pems.private, certPath, keyPath };
}

/** A pino logger whose lines land in `lines`, parsed. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

const table = () => responders().on(Hello, ({ count, name }) => greet(count, name));
const hello = { count: 1n, name: Buffer.from('tls') };

let directory: string;
let local: Pem;
let elsewhere: Pem;

beforeAll(async () => {
  directory = temporaryDirectory('ampstate-tls-verify-');
  local = await certificate(directory, 'local', ['localhost'], ['127.0.0.1']);
  elsewhere = await certificate(directory, 'elsewhere', ['elsewhere.example'], []);
});

describe('the tls: endpoint', () => {
  let server: AmpServer;
  let mismatched: AmpServer;
  beforeAll(async () => {
    server = await listen(`ssl:0:interface=127.0.0.1:privateKey=${local.keyPath}:certKey=${local.certPath}`, { responders: table });
    mismatched = await listen(`ssl:0:interface=127.0.0.1:privateKey=${elsewhere.keyPath}:certKey=${elsewhere.certPath}`, { responders: table });
  });
  afterAll(async () => {
    await server.close({ closeConnections: true });
    await mismatched.close({ closeConnections: true });
  });
  const port = (listening: AmpServer) => (listening.address as { port: number }).port;

  it('refuses a self-signed certificate when given no trust roots, with a verification error (no hang)', async () => {
    const failure = await connect(`tls:host=127.0.0.1:port=${port(server)}`).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TlsVerificationError);
    expect(failure).toMatchObject({ code: 'AMP_ERR_TLS_VERIFY', reason: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('accepts the certificate its trust roots vouch for', async () => {
    const connection = await connect(`tls:host=127.0.0.1:port=${port(server)}:trustRoots=${local.certPath}`);
    expect(await connection.callRemote(Hello, hello)).toEqual({ greeting: 'hi tls x1 é' });
    connection.close();
  });

  it('refuses a trusted certificate that names another host', async () => {
    const failure = await connect(`tls:host=127.0.0.1:port=${port(mismatched)}:trustRoots=${elsewhere.certPath}`).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TlsVerificationError);
    expect(failure).toMatchObject({ reason: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('with verify=no accepts any certificate and says so once, at warn', async () => {
    const { logger, lines } = capturingLogger();
    const connection = await connect(`tls:host=127.0.0.1:port=${port(mismatched)}:verify=no`, { logger });
    expect(await connection.callRemote(Hello, hello)).toEqual({ greeting: 'hi tls x1 é' });
    connection.close();
    await connection.closed;
    const warnings = lines.filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ verify: false, msg: expect.stringMatching(/without certificate verification/) });
  });

  it('parses verify=yes|no and refuses anything else', () => {
    expect(parseClientEndpoint('tls:host=h:port=1:verify=no')).toMatchObject({ kind: 'tls', verify: false });
    expect(parseClientEndpoint('tls:host=h:port=1:verify=yes')).toMatchObject({ kind: 'tls', verify: true });
    expect(parseClientEndpoint('tls:host=h:port=1')).toMatchObject({ kind: 'tls', verify: undefined });
    expect(() => parseClientEndpoint('tls:host=h:port=1:verify=false')).toThrow(EndpointSyntaxError);
  });
});

describe('StartTLS, we being the TLS client', () => {
  let server: AmpServer;
  let temporary: AmpServer;
  beforeAll(async () => {
    server = await listen('tcp:0:interface=127.0.0.1', { responders: table, tls: { cert: local.cert, key: local.key } });
    // No certificate: the StartTLS responder presents Twisted's temporary self-signed one.
    temporary = await listen('tcp:0:interface=127.0.0.1', { responders: table });
  });
  afterAll(async () => {
    await server.close({ closeConnections: true });
    await temporary.close({ closeConnections: true });
  });
  const open = (listening: AmpServer, logger?: Logger) => connect(`tcp:127.0.0.1:${(listening.address as { port: number }).port}`, { logger });

  it('refuses the temporary certificate when given no CA', async () => {
    const connection = await open(temporary);
    const failure = await connection.startTLS().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TlsVerificationError);
    expect(failure).toMatchObject({ code: 'AMP_ERR_TLS_VERIFY' });
    await connection.closed;
  });

  it('accepts a certificate its CA vouches for, and then calls go over TLS', async () => {
    const connection = await open(server);
    const peer = await connection.startTLS({ ca: local.cert });
    expect(peer?.subject.CN).toBe('local');
    expect(await connection.callRemote(Hello, hello)).toEqual({ greeting: 'hi tls x1 é' });
    connection.close();
  });

  it('checks a servername when given one', async () => {
    const connection = await open(server);
    const failure = await connection.startTLS({ ca: local.cert, servername: 'elsewhere.example' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: 'AMP_ERR_TLS_VERIFY', reason: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    await connection.closed;
  });

  it('with verify: false accepts the temporary certificate and warns once', async () => {
    const { logger, lines } = capturingLogger();
    const connection = await open(temporary, logger);
    await connection.startTLS({ verify: false });
    expect(await connection.callRemote(Hello, hello)).toEqual({ greeting: 'hi tls x1 é' });
    connection.close();
    await connection.closed;
    expect(lines.filter((line) => line.level === 40)).toEqual([expect.objectContaining({ verify: false })]);
  });
});
