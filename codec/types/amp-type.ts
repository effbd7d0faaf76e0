import type { WireValue } from '../box.js';

/**
 * An AMP argument type: how one value travels in one box value (docs/amp-protocol.md §3). `In` is what senders may
 * pass, `Out` what receivers get back (Integer takes numbers but always returns bigints).
 */
export abstract class AmpType<Out, In = Out> {
  abstract readonly name: string;
  abstract encode(value: In): WireValue;
  abstract decode(bytes: Buffer): Out;

  /** An optional argument: absent means the key is omitted, never a null on the wire. */
  optional(): Optional<Out, In> {
    return new Optional(this);
  }
}

export class Optional<Out, In = Out> {
  readonly isOptional = true;
  constructor(readonly type: AmpType<Out, In>) {}
}

export type ArgumentSpec = AmpType<any, any> | Optional<any, any>;

export interface CustomTypeDefinition<Out, In> {
  readonly name: string;
  encode(value: In): WireValue;
  decode(bytes: Buffer): Out;
}

/** The small interface for custom types: a name and the two conversions. */
export function defineType<Out, In = Out>(definition: CustomTypeDefinition<Out, In>): AmpType<Out, In> {
  return new (class extends AmpType<Out, In> {
    readonly name = definition.name;
    encode(value: In): WireValue {
      return definition.encode(value);
    }
    decode(bytes: Buffer): Out {
      return definition.decode(bytes);
    }
  })();
}
