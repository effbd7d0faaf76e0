/**
 * The Proxy half of Buildbot's Impl vs Proxy split, for protocols without remote references (AMP,
 * msgpack, in-memory): a proxy stands where an Impl was in a command's arguments, is kept by the
 * connection under the command's id, and turns the worker's id-keyed calls back into Impl calls.
 *
 * A proxy serialises: each call starts only after the previous one settled. With a transfer window
 * the worker has several writes or reads in flight, and the file must still see them in order.
 * An Impl that keeps its calls in arrival order itself ({@link OrdersOwnCalls}: FileWriter and
 * FileReader, which gather the blocks that arrive while the file is busy into one writev or one
 * read) gets each call at once, in arrival order: waiting for the previous call to settle would
 * leave it nothing to gather, one file operation per block.
 */
import { FileReaderImpl, FileWriterImpl, type ImplClass, type ProxyClass, type ProxyTable } from './connection-api.js';
import { SerialQueue } from './serial-queue.js';

/** Declared by an Impl that orders its own calls: started in arrival order, they act in that order. */
export interface OrdersOwnCalls {
  readonly ordersOwnCalls: true;
}

function ordersOwnCalls(impl: object): boolean {
  return (impl as Partial<OrdersOwnCalls>).ordersOwnCalls === true;
}

export class FileWriterProxy {
  private readonly queue = new SerialQueue();
  private readonly direct: boolean;
  constructor(readonly impl: FileWriterImpl) {
    this.direct = ordersOwnCalls(impl);
  }

  write(data: Buffer): Promise<void> {
    return this.run(() => this.impl.remoteWrite(data));
  }

  utime(accessTime: number, modifiedTime: number): Promise<void> {
    return this.run(() => this.impl.remoteUtime([accessTime, modifiedTime]));
  }

  unpack(): Promise<void> {
    return this.run(() => this.impl.remoteUnpack());
  }

  close(): Promise<void> {
    return this.run(() => this.impl.remoteClose());
  }

  private run<T>(call: () => Promise<T>): Promise<T> {
    return this.direct ? call() : this.queue.run(call);
  }
}

export class FileReaderProxy {
  private readonly queue = new SerialQueue();
  private readonly direct: boolean;
  constructor(readonly impl: FileReaderImpl) {
    this.direct = ordersOwnCalls(impl);
  }

  read(maxLength: number): Promise<Buffer> {
    return this.run(() => this.impl.remoteRead(maxLength));
  }

  close(): Promise<void> {
    return this.run(() => this.impl.remoteClose());
  }

  private run<T>(call: () => Promise<T>): Promise<T> {
    return this.direct ? call() : this.queue.run(call);
  }
}

/** The proxies every id-keyed protocol uses. */
export const COMMAND_ID_PROXIES: ProxyTable = new Map<ImplClass, ProxyClass>([
  [FileWriterImpl, FileWriterProxy],
  [FileReaderImpl, FileReaderProxy],
]);

/** Buildbot's `createArgsProxies`: a shallow copy with each Impl replaced by its Proxy. */
export function createArgsProxies(args: Readonly<Record<string, unknown>>, proxies: ProxyTable): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    let replaced = value;
    for (const [implClass, proxyClass] of proxies) {
      if (value instanceof implClass) {
        replaced = new proxyClass(value);
        break;
      }
    }
    copy[key] = replaced;
  }
  return copy;
}
