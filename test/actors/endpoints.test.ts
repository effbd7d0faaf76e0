import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { connect, listen } from '../../actors/connect.js';
import { EndpointSyntaxError, parseClientEndpoint, parseServerEndpoint } from '../../actors/endpoint.js';
import { responders } from '../../actors/responders.js';
import { TlsVerificationError } from '../../actors/tls-verification.js';
import { Hello, greet } from '../fixtures/commands.js';

describe('endpoint strings', () => {
  it('parse the long and short client forms', () => {
    expect(parseClientEndpoint('tcp:host=127.0.0.1:port=8750')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8750 });
    expect(parseClientEndpoint('tcp:localhost:8750')).toEqual({ kind: 'tcp', host: 'localhost', port: 8750 });
    expect(parseClientEndpoint('unix:path=/tmp/x.sock')).toEqual({ kind: 'unix', path: '/tmp/x.sock' });
    expect(parseClientEndpoint('unix:/tmp/y.sock')).toEqual({ kind: 'unix', path: '/tmp/y.sock' });
    expect(parseClientEndpoint('tls:host=127.0.0.1:port=443:trustRoots=/ca')).toMatchObject({ kind: 'tls', port: 443, trustRoots: '/ca' });
    expect(parseClientEndpoint('unix:/tmp/with\\:colon')).toEqual({ kind: 'unix', path: '/tmp/with:colon' });
  });

  it('parse server forms; tcp:PORT binds loopback', () => {
    expect(parseServerEndpoint('tcp:8750')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8750 });
    expect(parseServerEndpoint('tcp:port=8750:interface=\\:\\:1')).toEqual({ kind: 'tcp', host: '::1', port: 8750 });
    expect(parseServerEndpoint('ssl:8443:privateKey=k.pem:certKey=c.pem')).toMatchObject({ kind: 'tls', port: 8443, privateKey: 'k.pem', certificate: 'c.pem' });
  });

  it('refuse bad ones with a clear error naming the problem', () => {
    expect(() => parseClientEndpoint('tcp:127.0.0.1:99999')).toThrow(EndpointSyntaxError);
    expect(() => parseClientEndpoint('sctp:1')).toThrow(/unknown endpoint type "sctp"/);
    expect(() => parseClientEndpoint('tcp:port=1')).toThrow(/needs a host/);
  });
});

describe('transports', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ampstate-endpoints-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const table = () => responders().on(Hello, ({ count, name }) => greet(count, name));

  it('unix sockets', async () => {
    const path = join(dir, 'amp.sock');
    const server = await listen(`unix:${path}`, { responders: table });
    const connection = await connect(`unix:path=${path}`);
    expect(await connection.callRemote(Hello, { count: 2, name: Buffer.from('unix') })).toEqual({ greeting: 'hi unix x2 é' });
    connection.close();
    await server.close({ closeConnections: true });
  });

  it('TLS endpoints with a CA, and the framing machine traced live', async () => {
    const script = new URL('../python/make_certs.py', import.meta.url).pathname;
    execFileSync('/usr/bin/python3', [script, dir]);
    const server = await listen(`ssl:0:privateKey=${join(dir, 'server.key')}:certKey=${join(dir, 'server.pem')}`, { responders: table });
    const port = (server.address as { port: number }).port;
    const strings: number[] = [];
    const inspect = (event: InspectionEvent) => {
      if (event.type === '@xstate.event' && event.event.type === 'string') strings.push((event.event as unknown as { length: number }).length);
    };
    const connection = await connect(`tls:host=127.0.0.1:port=${port}:trustRoots=${join(dir, 'ca.pem')}`, { traceFraming: true, inspect });
    expect(await connection.callRemote(Hello, { count: 3, name: Buffer.from('tls') })).toEqual({ greeting: 'hi tls x3 é' });
    // The answer box: `_answer`, its tag, `greeting`, its text, then the empty terminator.
    expect(strings).toEqual([7, 1, 8, 12, 0]);
    connection.close();
    await server.close({ closeConnections: true });
  });

  it('a TLS client refuses a server its trust roots do not vouch for', async () => {
    const server = await listen(`ssl:0:privateKey=${join(dir, 'server.key')}:certKey=${join(dir, 'server.pem')}`, { responders: table });
    const port = (server.address as { port: number }).port;
    const otherCa = join(dir, 'other');
    execFileSync('/usr/bin/python3', [new URL('../python/make_certs.py', import.meta.url).pathname, otherCa]);
    await expect(connect(`tls:host=127.0.0.1:port=${port}:trustRoots=${join(otherCa, 'ca.pem')}`)).rejects.toBeInstanceOf(TlsVerificationError);
    await server.close({ closeConnections: true });
  });
});
