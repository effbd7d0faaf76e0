import { DescriptorsUnavailableError } from '../descriptor-errors.js';
import { InvalidValueError } from '../errors.js';
import { AmpType } from './amp-type.js';
import { IntegerNumberType } from './integer.js';

/**
 * What the connection puts in place of a file descriptor once it has queued the descriptor on its
 * socket: the ordinal both ends count (docs/amp-protocol.md §3.6).
 */
export class DescriptorOrdinal {
  constructor(readonly ordinal: number) {}
}

/** Takes the descriptor that arrived under `ordinal` on the receiving connection. */
export type DescriptorClaimer = (ordinal: number) => number;

/**
 * Twisted's amp.Descriptor: a file descriptor (a number) passed over a UNIX socket. The box carries
 * only an ordinal, an Integer counting the descriptors each end has sent on this connection; the
 * descriptor itself travels beside the bytes as SCM_RIGHTS. The connection does the passing; the
 * codec only writes and reads the ordinal.
 */
export class DescriptorType extends AmpType<number, number> {
  readonly name = 'Descriptor';
  /** Tells the schema that this argument needs a descriptor-passing connection. */
  readonly passesDescriptor = true;
  private readonly ordinal = new IntegerNumberType();

  encode(value: number | DescriptorOrdinal): string {
    if (value instanceof DescriptorOrdinal) return this.ordinal.encode(value.ordinal);
    if (!Number.isSafeInteger(value) || value < 0) throw new InvalidValueError(this.name, `expected a file descriptor (a non-negative integer), got ${String(value)}`);
    throw new DescriptorsUnavailableError();
  }

  decode(): number {
    throw new DescriptorsUnavailableError();
  }

  /** The ordinal the box names; the connection turns it into the descriptor that arrived. */
  decodeOrdinal(bytes: Buffer): number {
    return this.ordinal.decode(bytes);
  }
}

export function isDescriptorType(type: AmpType<unknown, unknown>): type is DescriptorType {
  return (type as Partial<DescriptorType>).passesDescriptor === true;
}
