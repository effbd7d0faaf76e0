import { decode, encode } from '@msgpack/msgpack';
import { InvalidValueError } from '../errors.js';
import { AmpType } from './amp-type.js';

/**
 * Any msgpack-able value in one AMP value, for structured arguments (command args, update lists,
 * worker info) that AMP's flat types cannot express. msgpack keeps text and bytes apart, as
 * Buildbot's msgpack protocol relies on.
 */
export class MsgpackType<T = unknown> extends AmpType<T> {
  readonly name = 'Msgpack';

  encode(value: T): Uint8Array {
    try {
      return encode(value, { ignoreUndefined: true });
    } catch (error) {
      throw new InvalidValueError(this.name, (error as Error).message, { cause: error });
    }
  }

  decode(bytes: Buffer): T {
    try {
      return decode(bytes, { useBigInt64: false }) as T;
    } catch (error) {
      throw new InvalidValueError(this.name, (error as Error).message, { cause: error });
    }
  }
}
