import { Subject } from 'rxjs';
import { AmpConnection } from './amp-connection.js';
import { ConnectError, type AmpServer, type ConnectOptions, type ListenOptions } from './connect.js';
import type { Refusal } from './refusals.js';
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
 * Listens on a UNIX socket that passes descriptors. The connection limits of `listen` (cap,
 * first-box deadline, idle timeout) are not applied here: such a socket is reachable only through
 * the filesystem, by processes the socket file's permissions let in.
 */
export async function listenPassingDescriptors(path: string, options: ListenOptions): Promise<AmpServer> {
  const { maxConnections: _cap, idleTimeoutMs: _idle, firstBoxTimeoutMs: _firstBox, onConnection, refusals: _log, ...connectionOptions } = options;
  const addon = loadUsocket();
  const connections = new Subject<AmpConnection>();
  const refusals = new Subject<Refusal>();
  const open = new Set<AmpConnection>();
  let accepted = 0;
  const server = await listenUnixFd(
    path,
    (socket) => {
      const table = typeof options.responders === 'function' ? options.responders(++accepted) : options.responders;
      const connection = new AmpConnection(socket, { ...connectionOptions, responders: table, role: 'server' });
      open.add(connection);
      void connection.closed.then(() => open.delete(connection));
      onConnection?.(connection, path);
      connections.next(connection);
    },
    addon,
  );
  return {
    address: path,
    connections$: connections.asObservable(),
    refusals$: refusals.asObservable(),
    close: async ({ closeConnections = false } = {}) => {
      server.close();
      connections.complete();
      refusals.complete();
      if (closeConnections) for (const connection of open) connection.close();
    },
  };
}
