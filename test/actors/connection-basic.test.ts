import { describe, expect, it } from 'vitest';
import { AmpConnection } from '../../actors/amp-connection.js';
import { createMemoryPair } from '../../actors/memory-pair.js';
import { responders } from '../../actors/responders.js';
import { ConnectionDoneError, UnhandledCommandError } from '../../codec/index.js';
import { BadValueError, Echo, Hello, greet } from '../fixtures/commands.js';

function pair() {
  const [a, b] = createMemoryPair();
  const server = new AmpConnection(b, {
    role: 'server',
    responders: responders()
      .on(Hello, ({ count, name }) => greet(count, name))
      .on(Echo, async ({ data }) => ({ data })),
  });
  const client = new AmpConnection(a, { role: 'client' });
  return { client, server };
}

describe('AmpConnection basics', () => {
  it('calls and answers', async () => {
    const { client } = pair();
    await expect(client.callRemote(Hello, { count: 13, name: Buffer.from('bob') })).resolves.toEqual({ greeting: 'hi bob x13 é' });
    const echoed = await client.callRemote(Echo, { data: Buffer.from('xyz') });
    expect(echoed.data.toString()).toBe('xyz');
  });

  it('maps declared errors and UNHANDLED', async () => {
    const { client } = pair();
    await expect(client.callRemote(Hello, { count: -1, name: Buffer.from('x') })).rejects.toBeInstanceOf(BadValueError);
    await expect(client.callRemoteString('NoSuchCommand')).rejects.toBeInstanceOf(UnhandledCommandError);
  });

  it('UNKNOWN then close fails later calls', async () => {
    const { client, server } = pair();
    await expect(client.callRemote(Hello, { count: 666, name: Buffer.from('x') })).rejects.toThrow('Code<UNKNOWN>: Unknown Error');
    const reason = await client.closed;
    expect(reason).toBeInstanceOf(ConnectionDoneError);
    await expect(client.callRemote(Hello, { count: 1, name: Buffer.from('x') })).rejects.toBe(reason);
    await server.closed;
  });

  it('pipelines many calls', async () => {
    const { client } = pair();
    const calls = Array.from({ length: 10000 }, (_, i) => client.callRemote(Hello, { count: i + 1000, name: Buffer.from('p') }));
    const answers = await Promise.all(calls);
    expect(answers[9999]!.greeting).toBe('hi p x10999 é');
  });
});
