/**
 * Type-level tests of ByteStream arguments, in the style of command.types.test.ts: they run under
 * `tsc`; `@ts-expect-error` lines fail the build if they compile.
 */
import type { Readable } from 'node:stream';
import { describe, expectTypeOf, it } from 'vitest';
import { amp, defineCommand, type ArgumentsOf, type ByteStreamSource, type ReceivedArgumentsOf, type ReceivedByteStream } from '../../codec/index.js';

const Store = defineCommand({
  name: 'Store',
  arguments: { key: amp.Unicode, value: amp.ByteStream, extra: amp.ByteStream.optional() },
});

describe('ByteStream types', () => {
  it('a sender passes bytes, text or an async source; a responder gets a ReceivedByteStream', () => {
    type Args = ArgumentsOf<typeof Store>;
    expectTypeOf<Args['value']>().toEqualTypeOf<ByteStreamSource>();
    expectTypeOf<Buffer>().toMatchTypeOf<Args['value']>();
    expectTypeOf<string>().toMatchTypeOf<Args['value']>();
    expectTypeOf<Readable>().toMatchTypeOf<Args['value']>();
    expectTypeOf<AsyncGenerator<Uint8Array>>().toMatchTypeOf<Args['value']>();
    expectTypeOf<Args['extra']>().toEqualTypeOf<ByteStreamSource | null | undefined>();
    type Received = ReceivedArgumentsOf<typeof Store>;
    expectTypeOf<Received['value']>().toEqualTypeOf<ReceivedByteStream>();
    expectTypeOf<Received['value']>().toMatchTypeOf<AsyncIterable<Buffer>>();
    // @ts-expect-error a number is not a stream source
    const wrong: Args['value'] = 42;
    void wrong;
  });
});
