import { closeSync } from 'node:fs';
import { DescriptorsUnavailableError, UnknownDescriptorError } from '../../codec/descriptor-errors.js';
import type { CompiledSchema, Schema } from '../../codec/schema.js';
import { DescriptorOrdinal } from '../../codec/types/descriptor.js';
import type { Logger } from '../logger.js';
import type { UnixFdSocket } from '../unix-fd-socket.js';

/**
 * Twisted's _DescriptorExchanger for one connection (docs/amp-protocol.md §3.6): each end counts the
 * descriptors it sends and, separately, those it receives, both from 0. A box names a descriptor by
 * its ordinal; the descriptor itself travels beside the bytes and waits here until a box claims it.
 */
export class DescriptorExchange {
  private sent = 0;
  private received = 0;
  private readonly arrived = new Map<number, number>();

  constructor(
    private readonly socket: UnixFdSocket,
    private readonly logger: Logger,
  ) {
    socket.on('descriptors', (fds: number[]) => {
      for (const fd of fds) this.arrived.set(this.received++, fd);
    });
  }

  /** Queues `fd` to leave with the next bytes written; returns its ordinal. */
  send(fd: number): number {
    this.socket.queueDescriptor(fd);
    return this.sent++;
  }

  /** The descriptor that arrived under `ordinal`; it is the caller's to close from now on. */
  readonly claim = (ordinal: number): number => {
    const fd = this.arrived.get(ordinal);
    if (fd === undefined) throw new UnknownDescriptorError(ordinal);
    this.arrived.delete(ordinal);
    return fd;
  };

  /**
   * Descriptors no box claimed would stay open in this process for good (Twisted leaks them): once
   * the connection has ended, nobody can claim them any more.
   */
  closeUnclaimed(): void {
    if (this.arrived.size === 0) return;
    this.logger.warn({ descriptors: this.arrived.size }, 'closing file descriptors that no box claimed');
    for (const fd of this.arrived.values()) {
      try {
        closeSync(fd);
      } catch {
        // Already closed by someone else: nothing left to release.
      }
    }
    this.arrived.clear();
  }
}

/**
 * The values with each Descriptor argument's descriptor sent and replaced by its ordinal, in
 * declaration order, which is the order Twisted numbers them in. Without an exchange the connection
 * cannot pass descriptors at all.
 */
export function bindDescriptors<T>(schema: CompiledSchema<Schema>, values: T, exchange: DescriptorExchange | undefined): T {
  const given = values as Record<string, unknown>;
  const bound: Record<string, unknown> = { ...given };
  for (const key of schema.descriptorKeys) {
    const fd = given[key];
    if (fd === undefined || fd === null || fd instanceof DescriptorOrdinal) continue;
    if (exchange === undefined) throw new DescriptorsUnavailableError();
    if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) continue; // the codec refuses it, naming the argument
    bound[key] = new DescriptorOrdinal(exchange.send(fd));
  }
  return bound as T;
}
