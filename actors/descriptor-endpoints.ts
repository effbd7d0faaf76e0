import { Subject } from 'rxjs';
import { AmpConnection } from './amp-connection.js';
import { ConnectError, type AmpServer, type ConnectOptions, type ListenOptions } from './connect.js';
import { DEFAULT_MAX_CONNECTIONS, limitFirstBoxAndIdle } from './connection-limits.js';
import { defaultLogger } from './logger.js';
import { RefusalLog } from './refusals.js';
import { connectUnixFd, listenUnixFd, loadUsocket } from './unix-fd-socket.js';

/**
 * `unix:…:fds=yes` endpoints: UNIX sockets that pass file descriptors for Descriptor arguments
 * (docs/amp-protocol.md §3.6). They run on the optional addon usocket, loaded only here; a missing
 * addon fails with DescriptorAddonMissingError (AMP_ERR_USOCKET_MISSING).
 */

/** Connects to a UNIX socket that passes descriptors. */
export async function connectPassingDescriptors(path: string, label: string, options: ConnectOptions): Promise<AmpConnection> {
  const addon = loadUsocket();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    if (options.timeoutMs === undefined) return;
    timer = setTimeout(() => reject(new Error(`timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
  });
  try {
    const socket = await Promise.race([connectUnixFd(path, addon), timeout]);
    return new AmpConnection(socket, { ...options, role: 'client' });
  } catch (error) {
    throw new ConnectError(label, error as Error);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * Listens on a UNIX socket that passes descriptors, with the connection limits of `listen` (cap,
 * first-box deadline, idle timeout): usocket's server has no `maxConnections`, so the cap is counted
 * here. A UNIX peer has no address of its own; refusals name the socket's path.
 */
export async function listenPassingDescriptors(path: string, options: ListenOptions): Promise<AmpServer> {
  const { maxConnections, idleTimeoutMs, firstBoxTimeoutMs, onConnection, refusals: sharedRefusals, ...connectionOptions } = options;
  const addon = loadUsocket();
  const refusals = sharedRefusals ?? new RefusalLog(options.logger ?? defaultLogger);
  const cap = maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const connections = new Subject<AmpConnection>();
  const open = new Set<AmpConnection>();
  let accepted = 0;
  const server = await listenUnixFd(
    path,
    (socket) => {
      if (open.size >= cap) {
        socket.destroy();
        refusals.refuse({ reason: 'connection-cap', address: path }, `connection refused: ${cap} connections are already open`);
        return;
      }
      const table = typeof options.responders === 'function' ? options.responders(++accepted) : options.responders;
      const connection = new AmpConnection(socket, { ...connectionOptions, responders: table, role: 'server' });
      open.add(connection);
      void connection.closed.then(() => open.delete(connection));
      limitFirstBoxAndIdle(connection, socket, path, refusals, { idleTimeoutMs, firstBoxTimeoutMs });
      onConnection?.(connection, path);
      connections.next(connection);
    },
    addon,
  );
  return {
    address: path,
    connections$: connections.asObservable(),
    refusals$: refusals.refusals$,
    close: async ({ closeConnections = false } = {}) => {
      server.close();
      connections.complete();
      if (sharedRefusals === undefined) refusals.complete();
      if (closeConnections) for (const connection of open) connection.close();
    },
  };
}
