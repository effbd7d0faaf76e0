/**
 * A responder that fails unhandled drops the connection, as Twisted does; boxes the peer had already
 * sent still reach the responders one by one. Only the first failure is worth an error line with a
 * stack: a flood of boxes that each trip the same bug must not flood the log.
 */
import * as net from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { encodeBox } from '../../codec/encode-box.js';
import { listen } from '../../actors/connect.js';
import { responders } from '../../actors/responders.js';
import { Hello, greet } from '../fixtures/commands.js';

describe('a flood of requests that each make a responder fail', () => {
  it('logs one error line for the connection, not one per box', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const server = await listen('tcp:0:interface=127.0.0.1', {
      logger,
      responders: () => responders().on(Hello, ({ count, name }) => greet(count, name)),
    });
    try {
      // count 666 makes greet throw a plain Error: UNKNOWN answer, logged, connection dropped.
      const boxes = Array.from({ length: 500 }, (_, index) =>
        encodeBox({ _ask: (index + 1).toString(16), _command: 'Hello', count: '666', name: 'x' }),
      );
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect({ host: '127.0.0.1', port: (server.address as net.AddressInfo).port }, () => socket.write(Buffer.concat(boxes)));
        socket.on('data', () => undefined);
        socket.on('error', reject);
        socket.on('close', () => resolve());
      });
      const errors = lines.filter((line) => line.includes('"level":50'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain('boom');
    } finally {
      await server.close();
    }
  });
});
