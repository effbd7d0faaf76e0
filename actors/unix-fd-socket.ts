import { unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Duplex } from 'node:stream';
import { AmpStateError } from '../codec/errors.js';

/**
 * A UNIX socket that passes file descriptors (SCM_RIGHTS), which Node's net module cannot do. It
 * runs on the optional native addon `usocket`, loaded only when such a socket is asked for, so the
 * package works without it (docs/amp-protocol.md §3.6).
 */

/** The optional addon is not installed (or did not build): descriptor passing is unavailable. */
export class DescriptorAddonMissingError extends AmpStateError {
  override readonly code = 'AMP_ERR_USOCKET_MISSING';
  constructor(cause: unknown) {
    super('passing file descriptors (fds=yes) needs the optional native addon usocket, which could not be loaded: npm install usocket', {
      cause,
    });
  }
}

/** The part of usocket's USocket used here: a Duplex whose writes may carry descriptors. */
interface USocketLike {
  connect(path: string): void;
  on(event: string, listener: (...args: any[]) => void): this;
  once(event: string, listener: (...args: any[]) => void): this;
  off(event: string, listener: (...args: any[]) => void): this;
  pause(): void;
  resume(): void;
  /** With a descriptor count: the bytes and that many of the descriptors received so far. */
  read(size: number, fdCount: number | null): { readonly fds: number[] } | null;
  write(chunk: Buffer | { readonly data: Buffer; readonly fds: number[] }, callback?: (error?: Error | null) => void): boolean;
  end(): void;
  destroy(): void;
}

interface UServerLike {
  listen(path: string, callback: () => void): void;
  on(event: 'connection', listener: (socket: USocketLike) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  close(): void;
}

export interface UsocketAddon {
  readonly USocket: new (options?: { readonly path?: string }) => USocketLike;
  readonly UServer: new () => UServerLike;
}

const requireFromHere = createRequire(import.meta.url);

/** Loads the addon; `load` is replaceable so that tests can simulate its absence. */
export function loadUsocket(load: (name: string) => unknown = requireFromHere): UsocketAddon {
  try {
    return load('usocket') as UsocketAddon;
  } catch (error) {
    throw new DescriptorAddonMissingError(error);
  }
}

/**
 * A byte-stream Duplex over a usocket connection. Descriptors queued with `queueDescriptor` leave
 * with the next bytes written, one descriptor per byte as Twisted sends them, so a descriptor never
 * arrives after the box that names it. Descriptors that arrive are announced with the
 * `descriptors` event before the bytes they came with are pushed.
 */
export class UnixFdSocket extends Duplex {
  private readonly outgoing: number[] = [];
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly inner: USocketLike) {
    super({ allowHalfOpen: false });
    inner.on('fds', this.onDescriptors);
    inner.on('data', (chunk: Buffer) => {
      this.idleTimer?.refresh();
      if (!this.push(chunk)) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (error: Error) => this.destroy(error));
    inner.on('close', () => this.destroy());
  }

  /** Sends `fd` with the next bytes written. It must stay open until those bytes have been written. */
  queueDescriptor(fd: number): void {
    this.outgoing.push(fd);
  }

  /**
   * As net.Socket's: emits 'timeout' once nothing has been received or sent for `ms` (0: never), so
   * that a listener's idle timeout works on this socket as on any other.
   */
  setTimeout(ms: number): this {
    clearTimeout(this.idleTimer);
    this.idleTimer = ms > 0 ? setTimeout(() => this.emit('timeout'), ms).unref() : undefined;
    return this;
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.idleTimer?.refresh();
    const count = Math.min(this.outgoing.length, chunk.length);
    if (count === 0) {
      this.inner.write(chunk, callback);
      return;
    }
    // Twisted's rule: each descriptor rides on one byte of its own sendmsg. The rest of the queue
    // (more descriptors than bytes) waits for the next chunk, which is the box that names them.
    const fds = this.outgoing.splice(0, count);
    const last = fds.length - 1;
    fds.forEach((fd, i) => {
      const done = i === last && count === chunk.length ? callback : undefined;
      this.inner.write({ data: chunk.subarray(i, i + 1), fds: [fd] }, done);
    });
    if (count < chunk.length) this.inner.write(chunk.subarray(count), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inner.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.idleTimer);
    this.inner.destroy();
    callback(error);
  }

  /**
   * usocket also keeps every descriptor it receives for its own two-argument read; taking them out
   * here keeps that list from growing for the life of the connection.
   */
  private readonly onDescriptors = (): void => {
    const taken = this.inner.read(0, null);
    if (taken !== null && taken.fds.length > 0) this.emit('descriptors', taken.fds);
  };
}

/** Connects to a UNIX socket path with descriptor passing. */
export function connectUnixFd(path: string, addon: UsocketAddon = loadUsocket()): Promise<UnixFdSocket> {
  return new Promise((resolve, reject) => {
    const inner = new addon.USocket();
    const onError = (error: Error) => reject(error);
    inner.once('error', onError);
    inner.once('connected', () => {
      inner.off('error', onError);
      resolve(new UnixFdSocket(inner));
    });
    inner.connect(path);
  });
}

export interface UnixFdServer {
  readonly path: string;
  /** Stops accepting and removes the socket file, as Node's own UNIX servers do. */
  close(): void;
}

/** Listens on a UNIX socket path; every accepted connection passes descriptors. */
export function listenUnixFd(
  path: string,
  onSocket: (socket: UnixFdSocket) => void,
  addon: UsocketAddon = loadUsocket(),
): Promise<UnixFdServer> {
  return new Promise((resolve, reject) => {
    const server = new addon.UServer();
    let listening = false;
    server.on('error', (error) => {
      if (!listening) reject(error);
    });
    server.on('connection', (inner) => onSocket(new UnixFdSocket(inner)));
    server.listen(path, () => {
      listening = true;
      resolve({
        path,
        close: () => {
          server.close();
          try {
            unlinkSync(path);
          } catch {
            // Already gone: nothing to remove.
          }
        },
      });
    });
  });
}
