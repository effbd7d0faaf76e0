/**
 * Reads into slabs (actors/read-slab.ts), on connecting and on accepted sockets: values that
 * straddle reads arrive as views, not copies, and intact, against real Twisted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import type { AmpConnection } from '../../actors/amp-connection.js';
import { connect, listen } from '../../actors/connect.js';
import { responders } from '../../actors/responders.js';
import { READ_SLAB_BYTES, ReadSlab, SMALL_SLAB_BYTES } from '../../actors/read-slab.js';
import { BoxDecoder } from '../../codec/box-decoder.js';
import type { AmpBox } from '../../codec/box.js';
import { encodeBox } from '../../codec/index.js';
import { Echo } from '../fixtures/commands.js';
import { describeInteropEach, startPythonServer, type PythonServer } from '../interop/support.js';

/** Bytes that differ from block to block and from offset to offset, so a misplaced view shows. */
function block(seed: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

describe('ReadSlab', () => {
  it('hands out consecutive reads back to back, and a fresh slab once too little is left', () => {
    const slab = new ReadSlab(1000, 300, 1000);
    const first = slab.take(slab.next(), 400);
    const second = slab.take(slab.next(), 350);
    expect(second.buffer).toBe(first.buffer);
    expect(second.byteOffset).toBe(first.byteOffset + 400);
    // 250 bytes left, under the 300 minimum: the old slab is never written over.
    const third = slab.next();
    expect(third.buffer).not.toBe(first.buffer);
    expect(third.length).toBe(1000);
  });

  it('starts small, takes large slabs while reads come in full, and goes back to small after a trickle', () => {
    const slab = new ReadSlab(READ_SLAB_BYTES);
    const offered = slab.next();
    expect(offered.length).toBe(SMALL_SLAB_BYTES);
    // Part of a small slab, then its rest: neither fills what it was offered but the second does.
    slab.take(offered, 1000);
    expect(slab.next().length).toBe(SMALL_SLAB_BYTES);
    const full = slab.next();
    slab.take(full, full.length);
    expect(slab.next().length).toBe(READ_SLAB_BYTES);
    // A large read that does not fill the slab keeps it; a trickle gives it up for a small one at once.
    const large = slab.next();
    slab.take(large, 200 * 1024);
    const rest = slab.next();
    expect(rest.buffer).toBe(large.buffer);
    slab.take(rest, 100);
    const after = slab.next();
    expect(after.buffer).not.toBe(large.buffer);
    expect(after.length).toBe(SMALL_SLAB_BYTES);
  });
});

describe('BoxDecoder and adjacent chunks', () => {
  const decode = (chunks: Buffer[]): AmpBox[] => {
    const boxes: AmpBox[] = [];
    const decoder = new BoxDecoder({ onBox: (box) => boxes.push(box), onError: () => {} });
    for (const chunk of chunks) decoder.push(chunk);
    return boxes;
  };
  const data = block(1, 5000);
  const wire = Buffer.from(encodeBox({ data }));

  it('takes a view of a value split between chunks that are adjacent in memory', () => {
    const backing = Buffer.allocUnsafeSlow(wire.length + 10);
    wire.copy(backing, 5);
    const all = backing.subarray(5, 5 + wire.length);
    const [box] = decode([all.subarray(0, 3000), all.subarray(3000, 3001), all.subarray(3001)]);
    const value = box!.get('data')!;
    expect(value.equals(data)).toBe(true);
    expect(value.buffer).toBe(backing.buffer);
  });

  it('copies a value split between chunks that are not adjacent', () => {
    const [box] = decode([Buffer.from(wire.subarray(0, 3000)), Buffer.from(wire.subarray(3000))]);
    expect((box!.get('data')!).equals(data)).toBe(true);
  });
});

describeInteropEach('slab reads against Twisted', (twisted) => {
  let server: PythonServer;
  beforeAll(async () => {
    server = await startPythonServer({}, twisted);
  });
  afterAll(() => server.stop());

  it('large answers arrive intact, nearly all as views into read slabs', async () => {
    const connection = await connect(`tcp:127.0.0.1:${server.port}`);
    try {
      const sent = Array.from({ length: 64 }, (_, i) => block(i, 60_000));
      const answers = await Promise.all(sent.map((data) => connection.callRemote(Echo, { data })));
      answers.forEach((answer, i) => expect(answer.data.equals(sent[i]!)).toBe(true));
      // A copy is made only where a value straddles two slabs: about once per 8 values.
      const views = answers.filter((answer) => answer.data.buffer.byteLength === READ_SLAB_BYTES).length;
      expect(views).toBeGreaterThan(answers.length / 2);
    } finally {
      connection.close();
    }
  });
});

describe('accepted sockets', () => {
  /** A listener whose Echo keeps every argument it receives, and a client connected to it. */
  async function recordingEcho(check: (received: Buffer[], connection: AmpConnection) => Promise<void>): Promise<void> {
    const received: Buffer[] = [];
    const server = await listen('tcp:0:interface=127.0.0.1', {
      responders: () =>
        responders().on(Echo, ({ data }) => {
          received.push(data);
          return { data: Buffer.from(data) };
        }),
    });
    const connection = await connect(`tcp:127.0.0.1:${(server.address as { port: number }).port}`);
    try {
      await check(received, connection);
    } finally {
      connection.close();
      await server.close({ closeConnections: true });
    }
  }

  it('read into slabs too: large arguments arrive intact, nearly all as views', () =>
    recordingEcho(async (received, connection) => {
      const sent = Array.from({ length: 64 }, (_, i) => block(i, 60_000));
      const answers = await Promise.all(sent.map((data) => connection.callRemote(Echo, { data })));
      answers.forEach((answer, i) => expect(answer.data.equals(sent[i]!)).toBe(true));
      received.forEach((data, i) => expect(data.equals(sent[i]!)).toBe(true));
      const views = received.filter((data) => data.buffer.byteLength === READ_SLAB_BYTES).length;
      expect(views).toBeGreaterThan(received.length / 2);
    }));

  it('start with a small slab: a connection that sends little holds no large one', () =>
    recordingEcho(async (received, connection) => {
      await connection.callRemote(Echo, { data: Buffer.from('small') });
      expect(received[0]!.buffer.byteLength).toBe(SMALL_SLAB_BYTES);
    }));

  it('still count against maxConnections until they close, and let close() finish', async () => {
    const server = await listen('tcp:0:interface=127.0.0.1', { maxConnections: 1, responders: () => responders().on(Echo, ({ data }) => ({ data })) });
    const port = (server.address as { port: number }).port;
    const first = await connect(`tcp:127.0.0.1:${port}`);
    expect(await first.callRemote(Echo, { data: Buffer.from('one') })).toEqual({ data: Buffer.from('one') });
    const refused = firstValueFrom(server.refusals$);
    const second = await connect(`tcp:127.0.0.1:${port}`);
    expect((await refused).reason).toBe('connection-cap');
    await second.closed;
    first.close();
    await first.closed;
    // The server counted the first connection as closed: a new one is let in.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const third = await connect(`tcp:127.0.0.1:${port}`);
    expect(await third.callRemote(Echo, { data: Buffer.from('three') })).toEqual({ data: Buffer.from('three') });
    const closing = server.close({ closeConnections: true });
    await expect(closing).resolves.toBeUndefined();
  });
});
