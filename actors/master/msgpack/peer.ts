/**
 * One end of a `msgpack_experimental_v7` WebSocket (docs/master-worker-protocol.md §5), either side: it numbers its own
 * requests from 0, matches each `response` to its request by `seq_number`, and answers every
 * request it gets, with `is_exception` and the error's text when its handler fails. The master's
 * Connection uses it towards a worker; the contract harness uses it as a scripted worker.
 *
 * Wire rules kept here, as Buildbot's two ends behave:
 * - text frames are ignored, and so are frames lacking `op` or `seq_number`;
 * - an unknown op is answered `Command <op> does not exist.`;
 * - handlers run in arrival order: each starts synchronously when its frame arrives, so a
 *   command's updates reach the master in the order the worker sent them, and `complete` last;
 * - once the socket is closed every pending and later request fails with the close reason.
 */
import type { WebSocket } from 'ws';
import { ConnectionDoneError, ConnectionLostError } from '../../../codec/errors.js';
import type { Logger } from '../../logger.js';
import { reportPeerFault } from '../../peer-fault-log.js';
import { peerAddress } from '../../refusals.js';
import { decodeMessage, encodeMessage, isRequestOrResponse, type MsgpackRequest } from './codec.js';
import { MsgpackRemoteError } from './errors.js';

export type RequestHandler = (request: MsgpackRequest) => unknown;

interface Pending {
  readonly op: string;
  resolve(result: unknown): void;
  reject(error: Error): void;
}

/** WebSocket close codes that mean "went away on purpose" rather than "lost". */
const CLEAN_CLOSE_CODES = new Set([1000, 1001]);

export class MsgpackPeer {
  /** Resolves with why, once the socket has closed (whoever closed it). */
  readonly closed: Promise<Error>;
  private readonly logger: Logger;
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly pending = new Map<number, Pending>();
  private readonly pongWaiters = new Set<{ resolve(): void; reject(error: Error): void }>();
  private fallback: RequestHandler | undefined;
  private nextSeq = 0;
  private closeReason: Error | undefined;
  private abortReason: Error | undefined;
  private resolveClosed!: (reason: Error) => void;

  constructor(
    readonly socket: WebSocket,
    options: { readonly logger: Logger },
  ) {
    this.logger = options.logger;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.binaryType = 'nodebuffer';
    socket.on('message', (data, isBinary) => this.onFrame(data as Buffer | Buffer[], isBinary));
    socket.on('pong', () => this.onPong());
    socket.on('error', (error) => this.logger.debug({ err: error }, 'websocket error'));
    socket.on('close', (code, reason) => this.onClose(code, reason.toString('utf8')));
  }

  get isClosed(): boolean {
    return this.closeReason !== undefined;
  }

  /** Serves `op`; the handler's value (or its promise's) is the result, a throw the error text. */
  handle(op: string, handler: RequestHandler): this {
    this.handlers.set(op, handler);
    return this;
  }

  /** Serves every op without a handler of its own (the default answers "does not exist"). */
  handleOthers(handler: RequestHandler | undefined): this {
    this.fallback = handler;
    return this;
  }

  /** Sends `{op, seq_number, ...fields}` and resolves with the response's `result`. */
  request(op: string, fields: Readonly<Record<string, unknown>> = {}): Promise<unknown> {
    if (this.closeReason !== undefined) return Promise.reject(this.closeReason);
    const seq = this.nextSeq++;
    let frame: Buffer;
    try {
      frame = encodeMessage({ ...fields, op, seq_number: seq });
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { op, resolve, reject });
      this.socket.send(frame, { binary: true }, (error) => {
        // A send that fails means the socket is going down; its close rejects the call.
        if (error !== undefined && error !== null) this.logger.debug({ err: error, op }, 'send failed');
      });
    });
  }

  /** A WebSocket ping; resolves on the next pong. The caller puts the deadline on it. */
  ping(): Promise<void> {
    if (this.closeReason !== undefined) return Promise.reject(this.closeReason);
    return new Promise((resolve, reject) => {
      this.pongWaiters.add({ resolve, reject });
      try {
        this.socket.ping();
      } catch (error) {
        // ws throws if the socket is not open; the close event settles the waiter.
        this.logger.debug({ err: error }, 'ping failed');
      }
    });
  }

  /** Hard-closes the socket (no closing handshake); `closed` then resolves with `reason`. */
  abort(reason: Error): void {
    this.abortReason ??= reason;
    this.socket.terminate();
  }

  /** A clean close with a WebSocket close code, e.g. 1008 for a refused duplicate. */
  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  /** What the peer got wrong: one warn line per connection within the process's budget, no stack. */
  private peerFault(message: string, cause?: unknown, fields?: Readonly<Record<string, unknown>>): void {
    // ws keeps the TCP socket in `_socket`; it has no public accessor for the peer's address.
    const tcp = (this.socket as unknown as { _socket?: { remoteAddress?: string; remotePort?: number } })._socket;
    reportPeerFault(this.logger, message, cause, () => peerAddress(tcp), fields);
  }

  private onFrame(data: Buffer | Buffer[], isBinary: boolean): void {
    if (!isBinary) {
      this.peerFault('text frame ignored: msgpack_experimental_v7 uses binary frames only');
      return;
    }
    let message;
    try {
      message = decodeMessage(Array.isArray(data) ? Buffer.concat(data) : data);
    } catch (error) {
      this.peerFault('undecodable frame dropped', error);
      return;
    }
    if (!isRequestOrResponse(message)) {
      this.peerFault('message without op or seq_number dropped', undefined, { keys: Object.keys(message).slice(0, 8) });
      return;
    }
    if (message.op === 'response') this.onResponse(message);
    else this.onRequest(message);
  }

  private onResponse(message: MsgpackRequest): void {
    const pending = this.pending.get(message.seq_number);
    if (pending === undefined) {
      this.peerFault('response to no pending request dropped', undefined, { seq: message.seq_number });
      return;
    }
    this.pending.delete(message.seq_number);
    if (message.is_exception === true) pending.reject(new MsgpackRemoteError(pending.op, String(message.result)));
    else pending.resolve(message.result);
  }

  private onRequest(request: MsgpackRequest): void {
    const handler = this.handlers.get(request.op) ?? this.fallback;
    if (handler === undefined) {
      this.respond(request, `Command ${request.op} does not exist.`, true);
      return;
    }
    let outcome: unknown;
    try {
      outcome = handler(request);
    } catch (error) {
      this.respond(request, errorText(error), true);
      return;
    }
    if (isThenable(outcome)) {
      outcome.then(
        (result) => this.respond(request, result, false),
        (error: unknown) => this.respond(request, errorText(error), true),
      );
    } else {
      this.respond(request, outcome, false);
    }
  }

  private respond(request: MsgpackRequest, result: unknown, isException: boolean): void {
    if (this.closeReason !== undefined) return;
    let frame: Buffer;
    try {
      // `result` must be present: Buildbot's worker reads it unconditionally.
      frame = encodeMessage({ op: 'response', seq_number: request.seq_number, result: result ?? null, ...(isException ? { is_exception: true } : {}) });
    } catch (error) {
      this.logger.error({ err: error, op: request.op }, 'could not encode a response; answering with the error');
      frame = encodeMessage({ op: 'response', seq_number: request.seq_number, result: errorText(error), is_exception: true });
    }
    this.socket.send(frame, { binary: true }, (error) => {
      if (error !== undefined && error !== null) this.logger.debug({ err: error, op: request.op }, 'response not sent');
    });
  }

  private onPong(): void {
    const waiters = [...this.pongWaiters];
    this.pongWaiters.clear();
    for (const waiter of waiters) waiter.resolve();
  }

  private onClose(code: number, reason: string): void {
    const description = `websocket closed (code ${code}${reason === '' ? '' : `: ${reason}`})`;
    const transportReason = CLEAN_CLOSE_CODES.has(code) ? new ConnectionDoneError(description) : new ConnectionLostError(description);
    // Calls always fail as "connection gone", whatever our own reason for aborting was: a caller
    // must be able to tell a lost worker (RETRY) from a worker that said no.
    this.closeReason =
      this.abortReason === undefined ? transportReason : new ConnectionLostError(`connection dropped: ${this.abortReason.message}`, { cause: this.abortReason });
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const call of pending) call.reject(this.closeReason);
    const waiters = [...this.pongWaiters];
    this.pongWaiters.clear();
    for (const waiter of waiters) waiter.reject(this.closeReason);
    this.resolveClosed(this.abortReason ?? transportReason);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
