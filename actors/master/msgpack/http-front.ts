/**
 * The HTTP side of the msgpack listener, before any WebSocket exists: the server itself (HTTPS for
 * `ssl:` endpoints), Buildbot's bare refusals of an upgrade, and the login deadline that runs from
 * accept until the upgrade request (the credentials) arrives.
 */
import { readFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer, Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { armDeadline } from '../../connection-limits.js';
import type { EndpointDescription } from '../../endpoint.js';
import { peerAddress } from '../../refusals.js';

export type RefusalStatus = 400 | 401 | 429 | 503;

const STATUS_TEXT: Record<RefusalStatus, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/** Buildbot's refusal of an upgrade: a bare HTTP answer, then the socket closes. */
export function answerUpgrade(socket: Duplex, status: RefusalStatus): void {
  const body = `${STATUS_TEXT[status]}\n`;
  socket.end(
    [
      `HTTP/1.1 ${status} ${STATUS_TEXT[status]}`,
      'Connection: close',
      'Content-Type: text/plain; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      ...(status === 401 ? ['WWW-Authenticate: Basic realm="buildbot"'] : []),
      '',
      body,
    ].join('\r\n'),
  );
}

/**
 * HTTP for `tcp:` and `unix:`, HTTPS (so `wss`) for `ssl:`/`tls:` with the endpoint's certificate.
 * A TLS handshake gets `handshakeTimeoutMs` (0: node's default, 120 s).
 */
export function httpServer(endpoint: EndpointDescription, handshakeTimeoutMs: number, onRequest: RequestListener): Server {
  if (endpoint.kind !== 'tls') return createServer(onRequest);
  // A single PEM may hold both the certificate and its key.
  const keyFile = endpoint.privateKey ?? endpoint.certificate;
  return createTlsServer(
    {
      cert: endpoint.certificate === undefined ? undefined : readFileSync(endpoint.certificate),
      key: keyFile === undefined ? undefined : readFileSync(keyFile),
      ...(handshakeTimeoutMs > 0 ? { handshakeTimeout: handshakeTimeoutMs } : {}),
    },
    onRequest,
  );
}

/**
 * Closes every connection that has not sent its upgrade request `timeoutMs` after it was accepted
 * (after its TLS handshake, which has the same limit of its own), reporting each by its address.
 */
export class LoginDeadlines {
  private readonly pending = new WeakMap<Duplex, () => void>();

  constructor(server: Server, timeoutMs: number, onLate: (address: string) => void) {
    if (timeoutMs <= 0) return;
    const watch = (socket: Duplex) => {
      const disarm = armDeadline(timeoutMs, () => {
        onLate(peerAddress(socket as Partial<Socket>));
        socket.destroy();
      });
      this.pending.set(socket, disarm);
      socket.once('close', disarm);
    };
    if (!(server instanceof HttpsServer)) {
      server.on('connection', watch);
      return;
    }
    // A request's socket is the TLS one, which exists only once the handshake is done.
    server.on('secureConnection', watch);
    server.on('tlsClientError', (error, socket) => {
      if ((error as NodeJS.ErrnoException).code === 'ERR_TLS_HANDSHAKE_TIMEOUT') onLate(peerAddress(socket));
    });
  }

  /** The request with the credentials has arrived on `socket`: the peer is not stalling. */
  credentialsArrived(socket: Duplex): void {
    this.pending.get(socket)?.();
    this.pending.delete(socket);
  }
}
