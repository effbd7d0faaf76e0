/**
 * The limits every listener puts on the connections it accepts, so that a peer that connects and
 * then stalls (half a box, no login) cannot hold file descriptors for ever: a cap on open
 * connections, a deadline for the first sign of life (a complete box, a login), and an optional
 * idle timeout. None of them costs anything per box: the cap is node's own `maxConnections`, the
 * deadline a timer armed at accept and cleared once, the idle timeout the socket's own timer.
 */
import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { registerSlabReader } from './read-slab.js';
import { BoxDecoder } from '../codec/box-decoder.js';
import type { AmpConnection } from './amp-connection.js';
import { ConnectionRefusedError, peerAddress, type RefusalLog } from './refusals.js';

/**
 * Open connections a listener holds at most: far below a typical file-descriptor limit (node raises
 * its soft limit to the hard one, often 20k to 1M), far above any real farm.
 */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** How long a new connection has to show it speaks the protocol (a complete box, a login). */
export const DEFAULT_FIRST_BOX_TIMEOUT_MS = 30_000;

export interface ConnectionLimitOptions {
  /**
   * Connections open at once; the next ones are closed as soon as they are accepted, and reported
   * as 'connection-cap' refusals. Default 10,000 (keep it below the process's file-descriptor limit);
   * `Infinity` disables the cap.
   */
  readonly maxConnections?: number;
  /** A connection that receives and sends nothing for this long is closed. Default 0: off. */
  readonly idleTimeoutMs?: number;
}

/** Caps the server's open connections with node's `maxConnections`; each one dropped is refused. */
export function capConnections(server: Server, maxConnections: number | undefined, refusals: RefusalLog): void {
  const cap = maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isFinite(cap)) return;
  server.maxConnections = cap;
  server.on('drop', (peer) =>
    refusals.refuse({ reason: 'connection-cap', address: peerAddress(peer) }, `connection refused: ${cap} connections are already open`),
  );
}

/** Calls `onExpired` after `ms` unless the returned disarm function is called first; 0 never fires. */
export function armDeadline(ms: number, onExpired: () => void): () => void {
  if (ms <= 0) return () => undefined;
  const timer = setTimeout(onExpired, ms);
  timer.unref?.();
  return () => clearTimeout(timer);
}

/** Calls `onIdle` once the socket has neither received nor sent anything for `ms`; 0 does nothing. */
export function watchIdle(socket: Duplex, ms: number | undefined, onIdle: () => void): void {
  const timed = socket as Partial<Pick<Socket, 'setTimeout'>>;
  if (ms === undefined || ms <= 0 || timed.setTimeout === undefined) return;
  timed.setTimeout(ms);
  socket.once('timeout', onIdle);
}

/**
 * Calls `onFirstBox` when the bytes the socket has received hold one complete AMP box, then stops
 * listening. A second decoder reads only that far; the connection's own never notices. It must be
 * attached after the connection's reader, which owns the stream's flow.
 */
export function whenFirstBox(socket: Duplex, onFirstBox: () => void): void {
  const stop = () => {
    socket.off('data', onData);
    socket.off('close', stop);
    unregister();
  };
  const decoder = new BoxDecoder({
    onBox: () => {
      // The rest of the chunk is the connection's business.
      decoder.pause();
      stop();
      onFirstBox();
    },
    // The connection's own decoder fails the connection for the same bytes, and applies the
    // connection's limit on a box's size: this one must not apply another.
    onError: stop,
  }, Number.POSITIVE_INFINITY);
  const onData = (chunk: Buffer) => decoder.push(chunk);
  socket.on('data', onData);
  // It may hold part of a first box that spans several slabs.
  const unregister = registerSlabReader(socket, decoder);
  socket.once('close', stop);
}

/**
 * Arms the first-box deadline (default 30 s; 0: off) and the idle timeout of one accepted AMP
 * connection; each closes it with a ConnectionRefusedError and one refusal.
 */
export function limitFirstBoxAndIdle(
  connection: AmpConnection,
  socket: Duplex,
  address: string,
  refusals: RefusalLog,
  limits: { readonly idleTimeoutMs?: number; readonly firstBoxTimeoutMs?: number },
): void {
  const firstBoxTimeoutMs = limits.firstBoxTimeoutMs ?? DEFAULT_FIRST_BOX_TIMEOUT_MS;
  const disarm = armDeadline(firstBoxTimeoutMs, () => {
    refusals.refuse({ reason: 'first-box-deadline', address }, `connection closed: no complete AMP box within ${firstBoxTimeoutMs} ms`);
    connection.abort(new ConnectionRefusedError('first-box-deadline', `no complete AMP box within ${firstBoxTimeoutMs} ms`));
  });
  if (firstBoxTimeoutMs > 0) whenFirstBox(socket, disarm);
  void connection.closed.then(disarm);
  watchIdle(socket, limits.idleTimeoutMs, () => {
    if (connection.isClosed) return;
    refusals.refuse({ reason: 'idle-timeout', address }, `connection closed: idle for ${limits.idleTimeoutMs} ms`);
    connection.abort(new ConnectionRefusedError('idle-timeout', `idle for ${limits.idleTimeoutMs} ms`));
  });
}
