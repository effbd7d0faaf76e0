import type { AmpBox } from '../box.js';
import { BoxDecoder, type FramingError } from '../box-decoder.js';
import { InvalidValueError, KeyTooLongError } from '../errors.js';
import { CompiledSchema, type Decoded, type Encodable, type Schema } from '../schema.js';
import { AmpType } from './amp-type.js';

/** A list of nested boxes, each element a record of its own schema (docs/amp-protocol.md §3.5). */
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

  override get copiesOnDecode(): boolean {
    return this.compiled.decodesToCopies;
  }

  decode(bytes: Buffer): Decoded<S>[] {
    const boxes: AmpBox[] = [];
    let failure: FramingError | undefined;
    new BoxDecoder({ onBox: (box) => boxes.push(box), onError: (error) => (failure = error) }).push(bytes);
    // Twisted's parseString raises here (its helper cannot close a connection), so the argument
    // fails instead of yielding the boxes before the bad prefix.
    if (failure !== undefined) {
      const problem = failure instanceof KeyTooLongError ? `a key length prefix of ${failure.keyLength}` : 'more bytes than a box may hold';
      throw new InvalidValueError(this.name, `nested box has ${problem}`, { cause: failure });
    }
    return boxes.map((box) => this.compiled.decode(box));
  }
}
