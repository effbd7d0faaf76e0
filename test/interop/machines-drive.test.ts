/**
 * The control machines drive the connection: a StartTLS machine altered so that it never leaves
 * `plain` changes what a real Twisted peer (22.4 and 24.11) sees, on both sides of the exchange. With the stock
 * machine the same steps give TLS, so nothing but the machine makes the difference.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { setup } from 'xstate';
import type { AmpConnection } from '../../actors/amp-connection.js';
import { connect } from '../../actors/connect.js';
import { EventRefusedError } from '../../codec/errors.js';
import { startTlsMachine, type StartTlsEvent } from '../../machines/start-tls.js';
import { Hello, WhoAmI } from '../fixtures/commands.js';
import {
  type Certificates,
  type PythonServer,
  type TsServer,
  describeInteropEach,
  makeCertificates,
  runPythonClient,
  startPythonServer,
  startTsServer,
} from './support.js';

/** Same events and actions as the real StartTLS machine, but `plain` accepts nothing. */
const neverLeavesPlain = setup({
  types: { events: {} as StartTlsEvent },
  actions: { beginHandshake: () => {}, announceSecure: () => {}, announceFailure: () => {} },
}).createMachine({ id: 'startTls', initial: 'plain', states: { plain: {} } }) as unknown as typeof startTlsMachine;

describeInteropEach('interop: the StartTLS machine decides what Twisted sees', (twisted) => {
  let certs: Certificates & { remove(): void };
  let python: PythonServer;
  let stuckServer: TsServer;
  let stockServer: TsServer;
  const open: AmpConnection[] = [];

  beforeAll(async () => {
    certs = makeCertificates();
    const tls = { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey), ca: readFileSync(certs.ca) };
    [python, stuckServer, stockServer] = await Promise.all([
      startPythonServer({ cert: certs.serverCert, key: certs.serverKey, ca: certs.ca }, twisted),
      startTsServer({ tls, machines: { startTls: neverLeavesPlain } }),
      startTsServer({ tls }),
    ]);
  });

  afterAll(async () => {
    for (const connection of open) connection.abort();
    await Promise.all([python?.stop(), stuckServer?.close(), stockServer?.close()]);
    certs?.remove();
  });

  const clientTls = () => ({ cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey), ca: readFileSync(certs.ca) });

  async function dial(machines?: { startTls: typeof startTlsMachine }): Promise<AmpConnection> {
    const connection = await connect(`tcp:127.0.0.1:${python.port}`, machines === undefined ? {} : { machines });
    open.push(connection);
    return connection;
  }

  it('we ask, with the stock machine: Twisted verifies our certificate over TLS', async () => {
    const client = await dial();
    await client.startTLS(clientTls());
    await expect(client.callRemote(WhoAmI, {})).resolves.toEqual({ cn: 'ampstate-test-client' });
  });

  it('we ask, with a machine that never leaves plain: no StartTLS is sent and Twisted sees no certificate', async () => {
    const client = await dial({ startTls: neverLeavesPlain });
    await expect(client.startTLS(clientTls())).rejects.toBeInstanceOf(EventRefusedError);
    // Twisted still reads plaintext AMP from us, and it has no TLS peer to name.
    await expect(client.callRemote(WhoAmI, {})).resolves.toEqual({ cn: '' });
    await expect(client.callRemote(Hello, { count: 1, name: Buffer.from('plain') })).resolves.toEqual({ greeting: 'hi plain x1 é' });
  });

  it('Twisted asks, our stock machine: the exchange ends in TLS with each side seeing the other', async () => {
    const { result } = await runPythonClient(stockServer.port, 'starttls', { cert: certs.clientCert, key: certs.clientKey, ca: certs.ca, peer: twisted });
    expect(result.error).toBeUndefined();
    expect(result.tls_transport).toBe(true);
    expect(result.server_sees_cn).toBe('ampstate-test-client');
  });

  it('Twisted asks, our machine never leaves plain: Twisted gets an error answer, never TLS', async () => {
    const { result } = await runPythonClient(stuckServer.port, 'starttls', { cert: certs.clientCert, key: certs.clientKey, ca: certs.ca, timeoutS: 10, peer: twisted });
    expect(result.hello_plain).toBe('hi plain x1 é');
    expect(JSON.stringify(result.error)).toMatch(/UNKNOWN|Unknown|ConnectionDone|ConnectionLost/);
    expect(result.tls_transport).toBeUndefined();
    expect(stuckServer.connections.every((entry) => entry.tls === undefined)).toBe(true);
  });
});
