/**
 * ampstate as the caller, real Twisted, 22.4 and 24.11 (test/python/amp_peer.py server), as the responder.
 * Every expectation is Twisted's documented behaviour (docs/amp-protocol.md, test/python/README.md).
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AmpConnection } from '../../actors/amp-connection.js';
import { connect } from '../../actors/connect.js';
import { TlsVerificationError } from '../../actors/tls-verification.js';
import {
  ConnectionDoneError,
  ConnectionLostError,
  encodeBox,
  KeyTooLongError,
  ProtocolSwitchedError,
  UnhandledCommandError,
  UnknownRemoteError,
} from '../../codec/index.js';
import { BadValueError, Delay, Echo, FatalBoomError, Hello, Ping, PingCount, Switch, Types, WhoAmI } from '../fixtures/commands.js';
import {
  type Certificates,
  type PythonServer,
  TOOLONG_COUNT,
  TYPES_CASES,
  describeInteropEach,
  hostCommonName,
  makeCertificates,
  peerCommonName,
  startPythonServer,
  typesDifferences,
  typesValuesFromReps,
  withTimeout,
} from './support.js';

describeInteropEach('interop: ampstate client → Twisted server', (twisted) => {
  let certs: Certificates & { remove(): void };
  let otherCerts: Certificates & { remove(): void };
  let server: PythonServer;
  let tlsServer: PythonServer;
  const open: AmpConnection[] = [];

  const dial = async (port = server.port) => {
    const connection = await connect(`tcp:127.0.0.1:${port}`);
    open.push(connection);
    return connection;
  };

  beforeAll(async () => {
    certs = makeCertificates();
    otherCerts = makeCertificates();
    [server, tlsServer] = await Promise.all([
      startPythonServer({}, twisted),
      // Requires a client certificate signed by our CA (tls_verifyAuthorities).
      startPythonServer({ cert: certs.serverCert, key: certs.serverKey, ca: certs.ca }, twisted),
    ]);
  });

  afterAll(async () => {
    for (const connection of open) connection.abort();
    await Promise.all([server?.stop(), tlsServer?.stop()]);
    certs?.remove();
    otherCerts?.remove();
  });

  it('round-trips every argument type, big ints included, field by field', async () => {
    const client = await dial();
    for (const [name, reps] of TYPES_CASES) {
      const sent = typesValuesFromReps(reps);
      const received = await client.callRemote(Types, sent as never);
      expect(typesDifferences(sent, received as Record<string, unknown>), `case ${name}`).toEqual([]);
    }
    // A spot check that the comparison itself sees what it must (2^70 as a bigint, -0.0 by sign).
    const full = await client.callRemote(Types, { i: 2n ** 70n, fl: -0, li: [-(2n ** 70n)] });
    expect(full.i).toBe(1180591620717411303424n);
    expect(Object.is(full.fl, -0)).toBe(true);
    expect(full.li).toEqual([-(2n ** 70n)]);
  });

  it('maps a declared error and keeps the connection open', async () => {
    const client = await dial();
    const error = await client.callRemote(Hello, { count: -1, name: Buffer.from('neg') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadValueError);
    expect((error as Error).message).toBe('negative count');
    await expect(client.callRemote(Hello, { count: 1, name: Buffer.from('alive') })).resolves.toEqual({ greeting: 'hi alive x1 é' });
    expect(client.isClosed).toBe(false);
  });

  it('gets UNHANDLED with Twisted’s exact description for an unknown command', async () => {
    const client = await dial();
    const error = await client.callRemoteString('NoSuchCommand').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnhandledCommandError);
    expect((error as UnhandledCommandError).errorCode).toBe('UNHANDLED');
    expect((error as UnhandledCommandError).description).toBe("Unhandled Command: b'NoSuchCommand'");
    await expect(client.callRemote(Hello, { count: 2, name: Buffer.from('still') })).resolves.toEqual({ greeting: 'hi still x2 é' });
  });

  it('gets UNKNOWN for an undeclared exception, then Twisted closes; later calls fail at once', async () => {
    const client = await dial();
    const error = await client.callRemote(Hello, { count: 666, name: Buffer.from('boom') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownRemoteError);
    expect((error as UnknownRemoteError).description).toBe('Unknown Error');
    expect((error as Error).message).toBe('Code<UNKNOWN>: Unknown Error');
    const reason = await withTimeout(client.closed, 5000, 'close after UNKNOWN');
    expect(reason).toBeInstanceOf(ConnectionDoneError);
    await expect(client.callRemote(Hello, { count: 2, name: Buffer.from('late') })).rejects.toBe(reason);
    expect(server.stderr()).toContain('RuntimeError: boom');
  });

  it('gets a fatal error with its declared class, then Twisted closes', async () => {
    const client = await dial();
    const error = await client.callRemote(Hello, { count: 777, name: Buffer.from('fatal') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FatalBoomError);
    expect((error as Error).message).toBe('fatal boom');
    await expect(withTimeout(client.closed, 5000, 'close after FATAL_BOOM')).resolves.toBeInstanceOf(ConnectionDoneError);
  });

  it('sends fire-and-forget Pings without an answer; PingCount sees all of them', async () => {
    const client = await dial();
    const results = await Promise.all(Array.from({ length: 100 }, (_, n) => client.callRemote(Ping, { n })));
    expect(results.every((result) => Object.keys(result).length === 0)).toBe(true);
    expect(client.pendingCalls).toBe(0);
    await expect(client.callRemote(PingCount, {})).resolves.toEqual({ count: 100n, total: 4950n });
    // Twisted echoes tags verbatim: the Pings consumed tags 1..64 (hex), PingCount took 65, so this is 66.
    const raw = await client.callRemoteString('PingCount');
    expect(raw.get('_answer')?.toString('latin1')).toBe('66');
  });

  it('pipelines 10 000 calls and matches every answer', async () => {
    const client = await dial();
    const calls = Array.from({ length: 10_000 }, (_, i) => client.callRemote(Hello, { count: 1000 + i, name: Buffer.from('pipe') }));
    const answers = await Promise.all(calls);
    const wrong = answers.filter((answer, i) => answer.greeting !== `hi pipe x${1000 + i} é`);
    expect(wrong).toEqual([]);
    expect(answers).toHaveLength(10_000);
  });

  it('matches answers that Twisted sends out of order (Delay)', async () => {
    const client = await dial();
    const order: number[] = [];
    await Promise.all(
      [
        [300, 1],
        [10, 2],
        [150, 3],
      ].map(([ms, id]) => client.callRemote(Delay, { ms: ms!, id: id! }).then((answer) => order.push(answer.id))),
    );
    expect(order).toEqual([2, 3, 1]);
  });

  it('StartTLS with mutual verification: we are the TLS client (TCP client), each side sees the other’s CN', async () => {
    const client = await dial(tlsServer.port);
    await expect(client.callRemote(Hello, { count: 1, name: Buffer.from('plain') })).resolves.toEqual({ greeting: 'hi plain x1 é' });
    const peer = await client.startTLS({
      cert: readFileSync(certs.clientCert),
      key: readFileSync(certs.clientKey),
      ca: readFileSync(certs.ca),
    });
    expect(peer?.subject.CN).toBe('ampstate-test-server');
    expect(peerCommonName(client)).toBe('ampstate-test-server');
    expect(hostCommonName(client)).toBe('ampstate-test-client');
    expect(client.state).toBe('tls');
    // Twisted's side verified our certificate against the CA and reports its CN.
    await expect(client.callRemote(WhoAmI, {})).resolves.toEqual({ cn: 'ampstate-test-client' });
    await expect(client.callRemote(Hello, { count: 2, name: Buffer.from('tls') })).resolves.toEqual({ greeting: 'hi tls x2 é' });
  });

  it('StartTLS: boxes sent before the handshake completes are queued and go out over TLS', async () => {
    const client = await dial(tlsServer.port);
    const tls = client.startTLS({ cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey), ca: readFileSync(certs.ca) });
    // Sent right after asking: Twisted must receive these inside TLS (it would fail to parse them otherwise).
    const early = [client.callRemote(WhoAmI, {}), client.callRemote(Hello, { count: 3, name: Buffer.from('queued') })];
    await tls;
    await expect(Promise.all(early)).resolves.toEqual([{ cn: 'ampstate-test-client' }, { greeting: 'hi queued x3 é' }]);
  });

  it('StartTLS: a server certificate from another CA is rejected by our side', async () => {
    const client = await dial(tlsServer.port);
    const error = await client
      .startTLS({ cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey), ca: readFileSync(otherCerts.ca) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TlsVerificationError);
    expect((error as TlsVerificationError).reason).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/);
    // The failed handshake ends the connection; nothing is left hanging.
    await expect(withTimeout(client.closed, 5000, 'close after a rejected server certificate')).resolves.toBeInstanceOf(Error);
    await expect(client.callRemote(Hello, { count: 1, name: Buffer.from('x') })).rejects.toBeInstanceOf(Error);
  });

  it('StartTLS: Twisted rejects a client certificate from another CA', async () => {
    const client = await dial(tlsServer.port);
    // With TLS 1.3 our handshake completes before Twisted has checked our certificate; its
    // "unknown ca" alert then fails the next call and closes the connection.
    const error = await client
      .startTLS({ cert: readFileSync(otherCerts.clientCert), key: readFileSync(otherCerts.clientKey), ca: readFileSync(certs.ca) })
      .then(() => client.callRemote(WhoAmI, {}))
      .then(
        (answer) => new Error(`WhoAmI answered ${JSON.stringify(answer)} over a rejected certificate`),
        (e: unknown) => e as Error,
      );
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect((error.cause as NodeJS.ErrnoException | undefined)?.code).toBe('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA');
    await expect(withTimeout(client.closed, 5000, 'close after a rejected client certificate')).resolves.toBe(error);
  });

  it('switches protocol: later boxes are refused, bytes after the switch reach Twisted’s echo protocol', async () => {
    const client = await dial();
    const transport = await client.switchProtocol(Switch, {});
    expect(client.state).toBe('switched');
    expect(() => client.callRemote(Hello, { count: 1, name: Buffer.from('x') })).toThrow(ProtocolSwitchedError);
    const message = Buffer.from('hello after switch \x00\x01\xff');
    const echoed: Buffer[] = [];
    const done = new Promise<void>((resolve) =>
      transport.on('data', (chunk: Buffer) => {
        echoed.push(chunk);
        if (Buffer.concat(echoed).length >= message.length) resolve();
      }),
    );
    transport.write(message);
    await withTimeout(done, 5000, 'echo after switch');
    expect(Buffer.concat(echoed)).toEqual(message);
    transport.destroy();
  });

  it('switch (raw peer, as Twisted does): bytes in the same write as the Switch request reach the new protocol', async () => {
    // Reference behaviour for the TS server test of the same name.
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
    socket.destroy();
  });

  it('closes on a key over 255: every pending call fails with KeyTooLongError (TooLong)', async () => {
    const client = await dial();
    await expect(client.callRemote(Hello, { count: 1, name: Buffer.from('x') })).resolves.toEqual({ greeting: 'hi x x1 é' });
    const slow = client.callRemote(Delay, { ms: 3000, id: 9 }).catch((e: unknown) => e);
    const toolong = client.callRemote(Hello, { count: TOOLONG_COUNT, name: Buffer.from('x') }).catch((e: unknown) => e);
    const [slowError, toolongError] = await withTimeout(Promise.all([slow, toolong]), 2500, 'pending calls after 01 00');
    for (const error of [slowError, toolongError]) {
      expect(error).toBeInstanceOf(KeyTooLongError);
      expect((error as KeyTooLongError).isLocal).toBe(false);
      expect((error as KeyTooLongError).keyLength).toBe(256);
    }
    await expect(client.closed).resolves.toBe(toolongError);
    await expect(client.callRemote(Hello, { count: 1, name: Buffer.from('x') })).rejects.toBe(toolongError);
  });

  it('echoes 60 KB String values byte for byte', async () => {
    const client = await dial();
    const payload = Buffer.alloc(61_440);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const answers = await Promise.all(Array.from({ length: 8 }, () => client.callRemote(Echo, { data: payload })));
    for (const answer of answers) expect(answer.data.equals(payload)).toBe(true);
  });
});
