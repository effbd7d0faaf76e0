import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { Subject, type Observable } from 'rxjs';
import { AmpStateError } from '../codec/errors.js';
import { AmpConnection, type AmpConnectionOptions } from './amp-connection.js';
import { capConnections, limitFirstBoxAndIdle, type ConnectionLimitOptions } from './connection-limits.js';
import { connectPassingDescriptors, listenPassingDescriptors } from './descriptor-endpoints.js';
import { type EndpointDescription, parseClientEndpoint, parseServerEndpoint } from './endpoint.js';
import { defaultLogger } from './logger.js';
import { adoptWithSlabReads, slabReads } from './read-slab.js';
import { peerAddress, RefusalLog, type Refusal } from './refusals.js';
import { asVerificationError, clientVerification, TlsVerificationError, warnUnverified } from './tls-verification.js';

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
  if (description.kind === 'unix' && description.passDescriptors === true) return connectPassingDescriptors(description.path, label, options);
  return new Promise((resolve, reject) => {
    let socket: net.Socket;
    let readyEvent = 'connect';
    // Reads go into slabs (see read-slab.ts); the listener below does the same for accepted sockets.
    const onread = slabReads(() => socket);
    if (description.kind === 'tcp') socket = net.connect({ host: description.host, port: description.port, onread });
    else if (description.kind === 'unix') socket = net.connect({ path: description.path, onread });
    else {
      // As Twisted's optionsForClientTLS: the chain (to trustRoots, else the platform's CAs) and the host name.
      const ca = description.trustRoots === undefined ? undefined : readCertificates(description.trustRoots);
      if (description.verify === false) warnUnverified(options.logger ?? defaultLogger, label);
      socket = tls.connect({
        host: description.host,
        port: description.port,
        cert: description.certificate === undefined ? undefined : readFileSync(description.certificate),
        key: description.privateKey === undefined ? undefined : readFileSync(description.privateKey),
        ...clientVerification({ ca, verify: description.verify, servername: description.host }),
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
      const verification = asVerificationError(error, label);
      reject(verification instanceof TlsVerificationError ? verification : new ConnectError(label, error));
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
  /** Every connection refused or closed by a limit (cap, first-box deadline, idle timeout). */
  readonly refusals$: Observable<Refusal>;
  /** Stops listening; with `closeConnections`, also closes every open connection. */
  close(options?: { readonly closeConnections?: boolean }): Promise<void>;
}

export type ListenOptions = Omit<AmpConnectionOptions, 'role' | 'connected' | 'responders'> &
  ConnectionLimitOptions & {
    /** Responders for each new connection (a fresh table per connection lets handlers keep state). */
    readonly responders?: AmpConnectionOptions['responders'] | ((connection: number) => NonNullable<AmpConnectionOptions['responders']>);
    /** Called for each accepted connection, with the peer's address as refusals name it. */
    readonly onConnection?: (connection: AmpConnection, address: string) => void;
    /** A connection that has not sent one complete box by then is closed. Default 30 s; 0 disables. */
    readonly firstBoxTimeoutMs?: number;
    /** Where refusals are reported; by default the server's own log (see `refusals$`). */
    readonly refusals?: RefusalLog;
  };

/** Listens on a Twisted-style server endpoint; every accepted transport becomes an AmpConnection. */
export function listen(endpoint: string | EndpointDescription, options: ListenOptions = {}): Promise<AmpServer> {
  const description = typeof endpoint === 'string' ? parseServerEndpoint(endpoint) : endpoint;
  if (description.kind === 'unix' && description.passDescriptors === true) return listenPassingDescriptors(description.path, options);
  const { maxConnections, idleTimeoutMs, firstBoxTimeoutMs, onConnection, refusals: sharedRefusals, ...connectionOptions } = options;
  const refusals = sharedRefusals ?? new RefusalLog(options.logger ?? defaultLogger);
  const connections = new Subject<AmpConnection>();
  const open = new Set<AmpConnection>();
  let accepted = 0;
  const onSocket = (socket: net.Socket) => {
    socket.setNoDelay(true);
    const table = typeof options.responders === 'function' ? options.responders(++accepted) : options.responders;
    const connection = new AmpConnection(socket, { ...connectionOptions, responders: table, role: 'server' });
    const address = peerAddress(socket);
    open.add(connection);
    void connection.closed.then(() => open.delete(connection));
    limitFirstBoxAndIdle(connection, socket, address, refusals, { idleTimeoutMs, firstBoxTimeoutMs });
    onConnection?.(connection, address);
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
    // Paused until adopted: see adoptWithSlabReads.
    server = net.createServer({ pauseOnConnect: true }, (accepted) => onSocket(adoptWithSlabReads(accepted)));
  }
  capConnections(server, maxConnections, refusals);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const ready = () => {
      server.off('error', reject);
      resolve({
        address: server.address() ?? '',
        connections$: connections.asObservable(),
        refusals$: refusals.refusals$,
        close: ({ closeConnections = false } = {}) =>
          new Promise<void>((done) => {
            server.close(() => done());
            connections.complete();
            if (sharedRefusals === undefined) refusals.complete();
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
