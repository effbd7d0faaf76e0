/**
 * A client that talks plain TCP to another machine sends everything, a worker's password
 * included, readable and changeable by anyone on the way. It still may (a private network, a VPN,
 * a tunnel), but it says so once; loopback stays quiet.
 */
import { BlockList, isIP } from 'node:net';
import { parseClientEndpoint, type EndpointDescription } from './endpoint.js';
import type { Logger } from './logger.js';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 (and its IPv4-mapped forms), `localhost` and names under `.localhost` (RFC 6761). */
export function isLoopbackHost(host: string): boolean {
  const family = isIP(host);
  if (family === 0) {
    const name = host.toLowerCase().replace(/\.$/, '');
    return name === 'localhost' || name.endsWith('.localhost');
  }
  return LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/** Whether connecting to this endpoint sends cleartext off this machine. */
export function travelsInCleartext(endpoint: EndpointDescription): endpoint is Extract<EndpointDescription, { kind: 'tcp' }> {
  return endpoint.kind === 'tcp' && !isLoopbackHost(endpoint.host);
}

/** The one warn line of a client about to connect in cleartext off this machine. */
export function warnIfCleartext(logger: Logger, endpoint: string | EndpointDescription): void {
  let description: EndpointDescription;
  try {
    description = typeof endpoint === 'string' ? parseClientEndpoint(endpoint) : endpoint;
  } catch {
    return; // connecting will report the bad endpoint
  }
  if (!travelsInCleartext(description)) return;
  const where = `${description.host}:${description.port}`;
  logger.warn(
    { host: where },
    `connecting to ${where} in cleartext: the password and all traffic can be read and changed on the way; use a tls: endpoint (docs/amp-protocol.md §4.1)`,
  );
}
