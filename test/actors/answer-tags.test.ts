/**
 * A responder's answer carries the request's `_ask` bytes back exactly. Canonical hex tags travel
 * through the runner as numbers (issue #13) and every other tag as bytes: both must come back as sent.
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { listen } from '../../actors/connect.js';
import { responders } from '../../actors/responders.js';
import { BoxDecoder, encodeBox, type AmpBox } from '../../codec/index.js';
import { Hello, greet } from '../fixtures/commands.js';

const TAGS = ['1', 'a', 'ff', '10', '7fffffff', '80000000', '100000000', 'ffffffffffff', '1000000000000', '0', '01', 'A', 'x y', '', '\u00e9'];

describe('answer tags', () => {
  it('echoes every _ask verbatim, in answers and in error replies', async () => {
    const server = await listen('tcp:0:interface=127.0.0.1', { responders: () => responders().on(Hello, ({ count, name }) => greet(count, name)) });
    const address = server.address;
    const socket = net.connect(typeof address === 'string' ? 0 : address.port, '127.0.0.1');
    const boxes: AmpBox[] = [];
    const decoder = new BoxDecoder({ onBox: (box) => boxes.push(box), onError: (error) => { throw error; } });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    const wanted = TAGS.length * 2;
    const received = new Promise<void>((done) => socket.on('data', () => boxes.length >= wanted && done()));
    for (const tag of TAGS) {
      const ask = Buffer.from(tag, 'latin1');
      socket.write(encodeBox({ _ask: ask, _command: 'Hello', count: '5', name: 'n' }));
      socket.write(encodeBox({ _ask: ask, _command: 'Hello', count: '-1', name: 'n' }));
    }
    await received;
    socket.destroy();
    await server.close({ closeConnections: true });
    const answers = boxes.filter((box) => box.has('_answer')).map((box) => box.get('_answer')!.toString('latin1'));
    const errors = boxes.filter((box) => box.has('_error')).map((box) => box.get('_error')!.toString('latin1'));
    expect(answers).toEqual(TAGS);
    expect(errors).toEqual(TAGS);
    expect(boxes.filter((box) => box.has('_answer')).every((box) => box.get('greeting')!.toString('utf8') === 'hi n x5 é')).toBe(true);
  });
});
