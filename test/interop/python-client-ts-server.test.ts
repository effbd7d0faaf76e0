/**
 * Real Twisted, 22.4 and 24.11 (test/python/amp_peer.py client --scenario …), as the caller, an ampstate server
 * with amp_peer.py's responders as the responder. Assertions are on the individual fields Twisted
 * reports (test/python/README.md), and on what our side saw.
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encodeBox } from '../../codec/index.js';
import {
  type Certificates,
  type TsServer,
  TYPES_CASES,
  describeInteropEach,
  makeCertificates,
  runPythonClient,
  startTsServer,
  typesDifferences,
  typesValuesFromReps,
  withTimeout,
} from './support.js';

describeInteropEach('interop: Twisted client → ampstate server', (twisted) => {
  let certs: Certificates & { remove(): void };
  let server: TsServer;
  let tlsServer: TsServer;
  const runClient: typeof runPythonClient = (port, scenario, options = {}) => runPythonClient(port, scenario, { ...options, peer: twisted });

  beforeAll(async () => {
    certs = makeCertificates();
    server = await startTsServer();
    // Presents the server certificate and requires a client certificate signed by the CA.
    tlsServer = await startTsServer({
      tls: { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey), ca: readFileSync(certs.ca) },
    });
  });

  afterAll(async () => {
    await Promise.all([server?.close(), tlsServer?.close()]);
    certs?.remove();
  });

  it('types: Twisted gets every value back equal, and our responder decoded each one exactly', async () => {
    const accepted = server.nextConnection();
    const { exitCode, result } = await runClient(server.port, 'types');
    expect(exitCode).toBe(0);
    const cases = result.cases as { name: string; equal?: Record<string, boolean>; error?: unknown; all_equal?: boolean }[];
    expect(cases.map((c) => c.name)).toEqual(TYPES_CASES.map(([name]) => name));
    for (const c of cases) {
      expect(c.error, `case ${c.name}`).toBeUndefined();
      expect(Object.entries(c.equal!).filter(([, equal]) => !equal), `case ${c.name}`).toEqual([]);
      expect(Object.keys(c.equal!)).toHaveLength(14);
    }
    // Independent of the echo: what did our side decode from Twisted's bytes?
    const { typesReceived } = await accepted;
    expect(typesReceived).toHaveLength(TYPES_CASES.length);
    TYPES_CASES.forEach(([name, reps], i) => {
      expect(typesDifferences(typesValuesFromReps(reps), typesReceived[i]!), `case ${name}`).toEqual([]);
    });
    expect(typesReceived[0]!.i).toBe(2n ** 70n);
    expect(typesReceived[1]!.i).toBe(-(2n ** 70n));
    expect(result.ok).toBe(true);
  });

  it('errors: declared error, UNHANDLED (exact description), UNKNOWN followed by our close', async () => {
    const accepted = server.nextConnection();
    const { exitCode, result } = await runClient(server.port, 'errors');
    expect(exitCode).toBe(0);
    expect(result.hello_negative).toMatchObject({ error_class: 'ValueError', message: 'negative count' });
    expect(result.unhandled).toMatchObject({
      error_class: 'UnhandledCommand',
      args: ['UNHANDLED', "Unhandled Command: b'NoSuchCommand'"],
    });
    expect(result.alive_greeting).toBe('hi alive x1 é');
    expect(result.hello_unknown).toMatchObject({ error_class: 'UnknownRemoteError', errorCode: 'UNKNOWN', description: 'Unknown Error' });
    expect(result.close).toMatchObject({ closed: true, reason_class: 'ConnectionDone' });
    expect(result.call_after_close).toMatchObject({ error_class: 'ConnectionDone' });
    expect(result.ok).toBe(true);
    // Our side dropped the connection because of the undeclared error (Twisted's unhandled-error path).
    const reason = await withTimeout((await accepted).connection.closed, 5000, 'server-side close');
    expect(reason.message).toBe('boom');
  });

  it('fatal: FATAL_BOOM reaches Twisted as its declared class, then we close', async () => {
    const accepted = server.nextConnection();
    const { result } = await runClient(server.port, 'fatal');
    expect(result.hello_fatal).toMatchObject({ error_class: 'FatalBoom', message: 'fatal boom' });
    expect(result.close).toMatchObject({ closed: true, reason_class: 'ConnectionDone' });
    expect(result.call_after_close).toMatchObject({ error_class: 'ConnectionDone' });
    expect(result.ok).toBe(true);
    expect((await withTimeout((await accepted).connection.closed, 5000, 'server-side close')).message).toBe('fatal boom');
  });

  it('fire: 100 fire-and-forget Pings reach our responder; PingCount answers 100 / 4950', async () => {
    const accepted = server.nextConnection();
    const { result } = await runClient(server.port, 'fire');
    expect(result.callRemote_returned).toEqual(['None']);
    expect(result.count).toBe(100);
    expect(result.total).toBe(4950);
    expect(result.ok).toBe(true);
    const entry = await accepted;
    expect([entry.pings, entry.pingTotal]).toEqual([100, 4950]);
  });

  it('pipelined: 10 000 calls in flight, every answer correct', async () => {
    const { result } = await runClient(server.port, 'pipelined', { calls: 10_000 });
    expect(result.calls).toBe(10_000);
    expect(result.correct).toBe(10_000);
    expect(result.ok).toBe(true);
  });

  it('outoforder: our async responders answer in completion order (2, 3, 1)', async () => {
    const { result } = await runClient(server.port, 'outoforder');
    expect(result.order).toEqual([2, 3, 1]);
    const arrival = result.arrival_s as Record<string, number>;
    expect(arrival['2']!).toBeLessThan(arrival['3']!);
    expect(arrival['3']!).toBeLessThan(arrival['1']!);
    expect(arrival['1']!).toBeGreaterThanOrEqual(0.29);
  });

  it('starttls: Twisted asks, we are the TLS server (TCP role); mutual verification; each side sees the other’s CN', async () => {
    const accepted = tlsServer.nextConnection();
    const { result } = await runClient(tlsServer.port, 'starttls', { cert: certs.clientCert, key: certs.clientKey, ca: certs.ca });
    expect(result.error).toBeUndefined();
    expect(result.hello_plain).toBe('hi plain x1 é');
    expect(result.starttls_response).toEqual([]);
    expect(result.tls_transport).toBe(true);
    expect(result.client_sees_cn).toBe('ampstate-test-server');
    expect(result.server_sees_cn).toBe('ampstate-test-client');
    expect(result.hello_tls).toBe('hi tls x2 é');
    expect(result.ok).toBe(true);
    expect((await accepted).tls).toEqual({ host: 'ampstate-test-server', peer: 'ampstate-test-client' });
  });

  it('starttls: a Twisted client without a certificate is refused by our verifying side', async () => {
    const accepted = tlsServer.nextConnection();
    const { result } = await runClient(tlsServer.port, 'starttls', { ca: certs.ca, timeoutS: 10 });
    expect(result.ok).toBe(false);
    // The StartTLS answer is plaintext, so Twisted's next call is the one that fails.
    expect(result.error).toMatchObject({ error_class: 'Error', error_type: 'OpenSSL.SSL.Error' });
    expect(result.error.message).toMatch(/certificate required/);
    await withTimeout((await accepted).connection.closed, 5000, 'server-side close');
  });

  it('starttls asked by the TCP server: we still act as TLS server, Twisted (TCP client) as TLS client', async () => {
    // Twisted ticket #5690: the TLS role follows the TCP role, not who asked. Our server asks as soon as
    // the Twisted client connects, while that client runs its Delay scenario.
    const tlsOptions = { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey), ca: readFileSync(certs.ca) };
    const asked = new Promise<string | undefined>((resolve, reject) => {
      const onConnection = tlsServer.connections.length;
      const poll = setInterval(() => {
        const entry = tlsServer.connections[onConnection];
        if (entry === undefined) return;
        clearInterval(poll);
        entry.connection.startTLS(tlsOptions).then((peer) => resolve(peer === undefined ? undefined : String(peer.subject.CN)), reject);
      }, 1);
    });
    const { result } = await runClient(tlsServer.port, 'outoforder', { cert: certs.clientCert, key: certs.clientKey, ca: certs.ca });
    expect(result.order).toEqual([2, 3, 1]);
    expect(await withTimeout(asked, 5000, 'server-initiated StartTLS')).toBe('ampstate-test-client');
    const entry = tlsServer.connections.at(-1)!;
    expect(entry.connection.role).toBe('server');
    expect(entry.tls).toEqual({ host: 'ampstate-test-server', peer: 'ampstate-test-client' });
    // Twisted closes TLS with close_notify and waits (5 s) for ours: we must answer it at once.
    const [tlsAt, closedAt] = [entry.eventTimes.tls, entry.eventTimes.closed];
    expect(closedAt! - tlsAt!).toBeLessThan(3000);
  });

  it('switch: Twisted gets the answer, AMP is locked (ProtocolSwitched), bytes after it hit our echo', async () => {
    const accepted = server.nextConnection();
    const { result } = await runClient(server.port, 'switch');
    expect(result.switch_response).toEqual([]);
    expect(result.switched).toBe(true);
    expect(result.amp_after_switch).toBe('ProtocolSwitched');
    expect(result.echoed).toBe('hello after switch');
    expect(result.ok).toBe(true);
    expect((await accepted).connection.state).toMatch(/switched|closed/);
  });

  it('switch (raw peer): bytes in the same write as the Switch request reach our new protocol, as with Twisted', async () => {
    const accepted = server.nextConnection();
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const answer = encodeBox({ _answer: '1' });
    const extra = Buffer.from('bytes right behind the request');
    const received: Buffer[] = [];
    const done = new Promise<void>((resolve) =>
      socket.on('data', (chunk: Buffer) => {
        received.push(chunk);
        if (Buffer.concat(received).length >= answer.length + extra.length) resolve();
      }),
    );
    socket.write(Buffer.concat([encodeBox({ _ask: '1', _command: 'Switch' }), extra]));
    await withTimeout(done, 5000, 'answer + echo');
    expect(Buffer.concat(received)).toEqual(Buffer.concat([answer, extra]));
    expect((await accepted).connection.state).toBe('switched');
    socket.destroy();
  });

  it('toolong: our raw 01 00 makes Twisted fail its pending call with TooLong(isKey, not local) and close', async () => {
    const { result } = await runClient(server.port, 'toolong');
    expect(result.hello_first).toBe('hi x x1 é');
    expect(result.toolong).toMatchObject({ error_class: 'TooLong', isKey: true, isLocal: false });
    expect(result.close).toMatchObject({ closed: true });
    expect(result.ok).toBe(true);
  });
});
