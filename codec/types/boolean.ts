import { InvalidValueError } from '../errors.js';
import { AmpType } from './amp-type.js';

/** Exactly `True` or `False`; Twisted refuses any other spelling. */
export class BooleanType extends AmpType<boolean> {
  readonly name = 'Boolean';

  encode(value: boolean): string {
    if (typeof value !== 'boolean') throw new InvalidValueError(this.name, `expected a boolean, got ${typeof value}`);
    return value ? 'True' : 'False';
  }

  decode(bytes: Buffer): boolean {
    const text = bytes.latin1Slice(0, bytes.length);
    if (text === 'True') return true;
    if (text === 'False') return false;
    throw new InvalidValueError(this.name, `expected True or False, got ${JSON.stringify(text.slice(0, 40))}`);
  }
}
