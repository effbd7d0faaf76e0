import { InvalidValueError } from '../errors.js';
import { AmpType } from './amp-type.js';
import { DecimalValue } from './decimal-value.js';

export class DecimalType extends AmpType<DecimalValue> {
  readonly name = 'Decimal';

  encode(value: DecimalValue): string {
    if (!(value instanceof DecimalValue)) {
      throw new InvalidValueError(this.name, 'can only encode DecimalValue instances (use DecimalValue.from or .parse)');
    }
    return value.toString();
  }

  override get copiesOnDecode(): boolean {
    return true;
  }

  decode(bytes: Buffer): DecimalValue {
    try {
      return DecimalValue.parse(bytes.latin1Slice(0, bytes.length));
    } catch (error) {
      throw new InvalidValueError(this.name, (error as Error).message, { cause: error });
    }
  }
}
