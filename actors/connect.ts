import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { Subject, type Observable } from 'rxjs';
import { AmpStateError } from '../codec/errors.js';
import { AmpConnection, type AmpConnectionOptions } from './amp-connection.js';
import { type EndpointDescription, parseClientEndpoint, parseServerEndpoint } from './endpoint.js';

export class ConnectError extends AmpStateError {
  override readonly code = 'AMP_ERR_CONNECT';
  constructor(
    readonly endpoint: string,
    cause: Error,
  ) {
    super(`could not connect to ${endpoint}: ${cause.message}`, { cause });
  }
}

export type ConnectOptions = Omit<AmpConnectionOptions, 'role' | 'connected'> & {
  /** Give up connecting after this long. */
  readonly timeoutMs?: number;
};

/** Connects to a Twisted-style endpoint and resolves with the AMP connection once it is open. */
export function connect(endpoint: string | EndpointDescription, options: ConnectOptions = {}): Promise<AmpConnection> {
  const description = typeof endpoint === 'string' ? parseClientEndpoint(endpoint) : endpoint;
  const label = typeof endpoint === 'string' ? endpoint : JSON.stringify(endpoint);
  return new Promise((resolve, reject) => {
    let socket: net.Socket;
    let readyEvent = 'connect';
    if (description.kind === 'tcp') socket = net.connect({ host: description.host, port: description.port });
    else if (description.kind === 'unix') socket = net.connect({ path: description.path });
    else {
      const ca = description.trustRoots === undefined ? undefined : readCertificates(description.trustRoots);
      socket = tls.connect({
        host: description.host,
        port: description.port,
        ca,
        cert: description.certificate === undefined ? undefined : readFileSync(description.certificate),
        key: description.privateKey === undefined ? undefined : readFileSync(description.privateKey),
        rejectUnauthorized: ca !== undefined,
        checkServerIdentity: () => undefined,
      });
      readyEvent = 'secureConnect';
    }
    socket.setNoDelay(true);
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => socket.destroy(new Error(`timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
    const onError = (error: Error) => {
      if (timer !== undefined) clearTimeout(timer);
      reject(new ConnectError(label, error));
    };
    socket.once('error', onError);
    socket.once(readyEvent, () => {
      if (timer !== undefined) clearTimeout(timer);
      socket.off('error', onError);
      resolve(new AmpConnection(socket, { ...options, role: 'client' }));
    });
  });
}

export interface AmpServer {
  /** Where it listens (the port is the real one when 0 was asked for). */
  readonly address: net.AddressInfo | string;
  readonly connections$: Observable<AmpConnection>;
  /** Stops listening; with `closeConnections`, also closes every open connection. */
  close(options?: { readonly closeConnections?: boolean }): Promise<void>;
}

export type ListenOptions = Omit<AmpConnectionOptions, 'role' | 'connected' | 'responders'> & {
  /** Responders for each new connection (a fresh table per connection lets handlers keep state). */
  readonly responders?: AmpConnectionOptions['responders'] | ((connection: number) => NonNullable<AmpConnectionOptions['responders']>);
  readonly onConnection?: (connection: AmpConnection) => void;
};

/** Listens on a Twisted-style server endpoint; every accepted transport becomes an AmpConnection. */
export function listen(endpoint: string | EndpointDescription, options: ListenOptions = {}): Promise<AmpServer> {
  const description = typeof endpoint === 'string' ? parseServerEndpoint(endpoint) : endpoint;
  const connections = new Subject<AmpConnection>();
  const open = new Set<AmpConnection>();
  let accepted = 0;
  const onSocket = (socket: net.Socket) => {
    socket.setNoDelay(true);
    const table = typeof options.responders === 'function' ? options.responders(++accepted) : options.responders;
    const connection = new AmpConnection(socket, { ...options, responders: table, role: 'server' });
    open.add(connection);
    void connection.closed.then(() => open.delete(connection));
    options.onConnection?.(connection);
    connections.next(connection);
  };
  let server: net.Server;
  if (description.kind === 'tls') {
    const ca = description.trustRoots === undefined ? undefined : readCertificates(description.trustRoots);
    server = tls.createServer(
      {
        cert: description.certificate === undefined ? undefined : readFileSync(description.certificate),
        key: description.privateKey === undefined ? undefined : readFileSync(description.privateKey),
        ca,
        requestCert: ca !== undefined,
        rejectUnauthorized: ca !== undefined,
      },
      onSocket,
    );
  } else {
    server = net.createServer(onSocket);
  }
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const ready = () => {
      server.off('error', reject);
      resolve({
        address: server.address() ?? '',
        connections$: connections.asObservable(),
        close: ({ closeConnections = false } = {}) =>
          new Promise<void>((done) => {
            server.close(() => done());
            connections.complete();
            if (closeConnections) for (const connection of open) connection.close();
          }),
      });
    };
    if (description.kind === 'unix') server.listen(description.path, ready);
    else server.listen(description.port, description.host, ready);
  });
}

/** A PEM file, or every PEM file in a directory (Twisted's trustRoots/caCertsDir). */
function readCertificates(path: string): Buffer[] {
  if (!statSync(path).isDirectory()) return [readFileSync(path)];
  return readdirSync(path)
    .filter((name) => /\.(pem|crt)$/.test(name))
    .map((name) => readFileSync(join(path, name)));
}
