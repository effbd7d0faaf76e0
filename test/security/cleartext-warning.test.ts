/**
 * A client about to send cleartext off this machine says so once (issue #12 item 6). The decision
 * is tested here, not by connecting anywhere: tests talk to loopback only.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { isLoopbackHost, travelsInCleartext, warnIfCleartext } from '../../actors/cleartext-warning.js';
import { parseClientEndpoint } from '../../actors/endpoint.js';

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST', 'db.localhost', 'localhost.'])(
    '%s is loopback',
    (host) => expect(isLoopbackHost(host)).toBe(true),
  );
  it.each(['10.0.0.1', '128.0.0.1', '::2', '::ffff:10.0.0.1', '0.0.0.0', 'master.example.org', 'localhost.example.org', 'notlocalhost'])(
    '%s is not',
    (host) => expect(isLoopbackHost(host)).toBe(false),
  );
});

describe('travelsInCleartext', () => {
  it('is true for tcp: to another machine only', () => {
    const cleartext = (endpoint: string) => travelsInCleartext(parseClientEndpoint(endpoint));
    expect(cleartext('tcp:master.example.org:9989')).toBe(true);
    expect(cleartext('tcp:host=192.0.2.7:port=9989')).toBe(true);
    expect(cleartext('tcp:127.0.0.1:9989')).toBe(false);
    expect(cleartext('tcp:localhost:9989')).toBe(false);
    expect(cleartext('tls:master.example.org:9989')).toBe(false);
    expect(cleartext('unix:/run/master.sock')).toBe(false);
  });
});

describe('warnIfCleartext', () => {
  const warnings = (endpoint: string) => {
    const lines: string[] = [];
    warnIfCleartext(pino({ level: 'debug' }, { write: (line: string) => lines.push(line) }), endpoint);
    return lines.map((line) => JSON.parse(line) as { level: number; msg: string });
  };

  it('writes one warn line for a cleartext endpoint off the machine', () => {
    expect(warnings('tcp:master.example.org:9989')).toEqual([
      expect.objectContaining({ level: 40, msg: expect.stringMatching(/^connecting to master\.example\.org:9989 in cleartext/) }),
    ]);
  });

  it('stays quiet for loopback, TLS, and endpoints it cannot parse (connecting reports those)', () => {
    expect(warnings('tcp:127.0.0.1:9989')).toEqual([]);
    expect(warnings('tls:master.example.org:9989')).toEqual([]);
    expect(warnings('sctp:nowhere')).toEqual([]);
  });
});
