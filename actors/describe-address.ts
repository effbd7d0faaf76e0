import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** Addresses in the shape Twisted logs them: `IPv4Address(type='TCP', host='127.0.0.1', port=8750)`. */
export function describeAddress(address: AddressInfo | string | null | undefined | {}): string {
  if (address === undefined || address === null) return 'unknown';
  if (typeof address === 'string') return `UNIXAddress('${address}')`;
  if (!('address' in address)) return 'unknown';
  const kind = address.family === 'IPv6' || address.family === (6 as unknown) ? 'IPv6Address' : 'IPv4Address';
  return `${kind}(type='TCP', host='${address.address}', port=${address.port})`;
}

/** `HOST:… PEER:…` for a connection's log line; a transport that is no socket reports `unknown`. */
export function describeEnds(transport: Duplex): string {
  const socket = transport as Partial<Socket>;
  const peer =
    socket.remoteAddress === undefined
      ? undefined
      : { address: socket.remoteAddress, port: socket.remotePort ?? 0, family: socket.remoteFamily ?? '' };
  return `HOST:${describeAddress(socket.address?.())} PEER:${describeAddress(peer)}`;
}
