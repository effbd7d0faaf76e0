/**
 * Type-level tests: a command's argument and response types are inferred from its schema. These
 * run under `tsc` (part of `npm test`); `@ts-expect-error` lines fail the build if they compile.
 */
import { describe, expectTypeOf, it } from 'vitest';
import { AmpConnection } from '../../actors/amp-connection.js';
import { createMemoryPair } from '../../actors/memory-pair.js';
import { responders } from '../../actors/responders.js';
import {
  amp,
  defineCommand,
  type ArgumentsOf,
  type DateTimeValue,
  type DecimalValue,
  type ReceivedArgumentsOf,
  type ResponseOf,
} from '../../codec/index.js';

const Everything = defineCommand({
  name: 'Everything',
  arguments: {
    i: amp.Integer,
    n: amp.IntegerNumber,
    s: amp.String,
    u: amp.Unicode,
    b: amp.Boolean,
    f: amp.Float,
    d: amp.Decimal,
    t: amp.DateTime,
    p: amp.Path,
    li: amp.ListOf(amp.Integer),
    al: amp.AmpList({ a: amp.Integer, b: amp.Unicode.optional() }),
    'foo-bar': amp.Unicode.optional(),
  },
  response: { total: amp.Integer, note: amp.Unicode.optional() },
});

describe('types inferred from schemas', () => {
  it('arguments a sender passes', () => {
    type Args = ArgumentsOf<typeof Everything>;
    expectTypeOf<Args['i']>().toEqualTypeOf<bigint | number>();
    expectTypeOf<Args['s']>().toEqualTypeOf<Uint8Array>();
    expectTypeOf<Args['li']>().toEqualTypeOf<readonly (bigint | number)[]>();
    expectTypeOf<Args['foo-bar']>().toEqualTypeOf<string | null | undefined>();
    expectTypeOf<Args['al'][number]>().toEqualTypeOf<{ a: bigint | number; b?: string | null | undefined }>();
  });

  it('arguments a responder receives', () => {
    type Received = ReceivedArgumentsOf<typeof Everything>;
    expectTypeOf<Received['i']>().toEqualTypeOf<bigint>();
    expectTypeOf<Received['n']>().toEqualTypeOf<number>();
    expectTypeOf<Received['s']>().toEqualTypeOf<Buffer>();
    expectTypeOf<Received['d']>().toEqualTypeOf<DecimalValue>();
    expectTypeOf<Received['t']>().toEqualTypeOf<DateTimeValue>();
    expectTypeOf<Received['al']>().toEqualTypeOf<{ a: bigint; b?: string }[]>();
    expectTypeOf<Received>().toHaveProperty('foo-bar');
  });

  it('the response a caller gets', () => {
    expectTypeOf<ResponseOf<typeof Everything>>().toEqualTypeOf<{ total: bigint; note?: string }>();
    const [a] = createMemoryPair();
    const connection = new AmpConnection(a);
    const call = () => connection.callRemote(Hello, { count: 1, name: Buffer.from('x') });
    expectTypeOf(call).returns.resolves.toEqualTypeOf<{ greeting: string }>();
    a.destroy();
  });

  it('refuses wrong arguments and answers at compile time', () => {
    const [a] = createMemoryPair();
    const connection = new AmpConnection(a);
    const never = (): void => {
      // @ts-expect-error a required argument is missing
      void connection.callRemote(Hello, { count: 1 });
      // @ts-expect-error String takes bytes, not text
      void connection.callRemote(Hello, { count: 1, name: 'text' });
      // @ts-expect-error an undeclared argument
      void connection.callRemote(Hello, { count: 1, name: Buffer.from('x'), extra: 1 });
      responders().on(Hello, ({ count }) => {
        expectTypeOf(count).toEqualTypeOf<bigint>();
        return { greeting: `x${count}` };
      });
      // @ts-expect-error the answer must have a greeting string
      responders().on(Hello, () => ({ greeting: 42 }));
    };
    expectTypeOf(never).toBeFunction();
    a.destroy();
  });
});

const Hello = defineCommand({
  name: 'Hello',
  arguments: { count: amp.Integer, name: amp.String },
  response: { greeting: amp.Unicode },
});
