import { parseBoxes } from '../box-decoder.js';
import { InvalidValueError } from '../errors.js';
import { CompiledSchema, type Decoded, type Encodable, type Schema } from '../schema.js';
import { AmpType } from './amp-type.js';

/** A list of nested boxes, each element a record of its own schema (spec §3.5). */
export class AmpListType<S extends Schema> extends AmpType<Decoded<S>[], readonly Encodable<S>[]> {
  readonly name: string;
  private readonly compiled: CompiledSchema<S>;

  constructor(readonly schema: S) {
    super();
    this.name = `AmpList(${Object.keys(schema).join(', ')})`;
    this.compiled = new CompiledSchema(this.name, schema);
  }

  encode(values: readonly Encodable<S>[]): Buffer {
    if (!Array.isArray(values)) throw new InvalidValueError(this.name, `expected an array, got ${typeof values}`);
    return Buffer.concat(values.map((value) => this.compiled.encode(value)));
  }

  decode(bytes: Buffer): Decoded<S>[] {
    return parseBoxes(bytes).map((box) => this.compiled.decode(box));
  }
}
