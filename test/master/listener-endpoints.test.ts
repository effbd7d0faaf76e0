/**
 * Both master listeners take their endpoint the same way (a Twisted server endpoint string,
 * `tcp:0` by default) and report where they are bound in the one ListenerAddress shape.
 */
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../actors/connect.js';
import { AmpListener, Listener, type ListenerAddress } from '../../actors/master/listener.js';
import { MsgpackListener } from '../../actors/master/msgpack/listener.js';
import { ResponderTable } from '../../actors/responders.js';
import { Login } from '../../codec/protocols/worker-commands.js';
import { LoginRefusedError } from '../../codec/protocols/worker-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ampstate-listeners-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const running: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const listener of running.splice(0)) await listener.stop();
});

const makers = {
  AMP: (endpoint?: string) => new AmpListener({ registrations: { w1: 'pw' }, keepaliveIntervalMs: 0, ...(endpoint === undefined ? {} : { endpoint }) }),
  msgpack: (endpoint?: string) => new MsgpackListener({ registrations: { w1: 'pw' }, keepaliveIntervalMs: 0, ...(endpoint === undefined ? {} : { endpoint }) }),
};

/** Whether something answers at the address: an AMP Login (refused) or an HTTP request (426). */
async function reachable(kind: keyof typeof makers, address: ListenerAddress): Promise<boolean> {
  if (kind === 'AMP') {
    const endpoint = address.family === 'unix' ? `unix:${address.address}` : `tcp:${address.address}:${address.port}`;
    const amp = await connect(endpoint, { responders: new ResponderTable() });
    const error = await amp.callRemote(Login, { username: 'w1', password: 'wrong', transferWindow: 1 }).catch((caught: unknown) => caught);
    amp.abort();
    return error instanceof LoginRefusedError;
  }
  const target = address.family === 'unix' ? { socketPath: address.address } : { host: address.address, port: address.port };
  return new Promise((resolve) => {
    request({ ...target, path: '/' }, (response) => {
      response.resume();
      resolve(response.statusCode === 426);
    })
      .on('error', () => resolve(false))
      .end();
  });
}

for (const [kind, make] of Object.entries(makers) as Array<[keyof typeof makers, (endpoint?: string) => AmpListener | MsgpackListener]>) {
  describe(`${kind} listener endpoints`, () => {
    it('listens on 127.0.0.1, any free port, by default', async () => {
      const listener = make();
      running.push(listener);
      const address = await listener.start();
      expect(address).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
      expect(address.port).toBeGreaterThan(0);
      expect(listener.address).toEqual(address);
      expect(await reachable(kind, address)).toBe(true);
    });

    it('takes a tcp endpoint with an interface', async () => {
      const listener = make('tcp:0:interface=127.0.0.1');
      running.push(listener);
      const address = await listener.start();
      expect(address.address).toBe('127.0.0.1');
      expect(await reachable(kind, address)).toBe(true);
    });

    it('takes a unix endpoint and reports its path', async () => {
      const path = join(dir, `${kind}.sock`);
      const listener = make(`unix:${path}`);
      running.push(listener);
      const address = await listener.start();
      expect(address).toEqual({ address: path, family: 'unix', port: 0 });
      expect(await reachable(kind, address)).toBe(true);
    });
  });
}

it('keeps Listener as a deprecated name of AmpListener', () => {
  expect(Listener).toBe(AmpListener);
});
