import fc from 'fast-check';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { compareKeys, encodeSortedPairs } from '../../codec/index.js';
import { encodeSortedPairsParts } from '../../codec/encode-box.js';
import { WriteBatch } from '../../actors/amp/write-batch.js';
import { isLeased, leaseView, trackSlab } from '../../codec/slab-leases.js';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';

/** A socket stand-in that keeps every chunk handed to it by reference, uncopied. */
function recordingSocket(): { socket: Writable; writes: Buffer[][] } {
  const writes: Buffer[][] = [];
  const socket = new Writable({
    writev(chunks, callback) {
      writes.push(chunks.map(({ chunk }) => chunk as Buffer));
      callback();
    },
    write(chunk: Buffer, _encoding, callback) {
      writes.push([chunk]);
      callback();
    },
  });
  return { socket, writes };
}

const nextTick = () => new Promise<void>((done) => process.nextTick(done));

describe('WriteBatch', () => {
  it('sends the small frames of one tick as one buffer', async () => {
    const { socket, writes } = recordingSocket();
    const batch = new WriteBatch(socket, () => {});
    const frames = Array.from({ length: 100 }, (_, i) => Buffer.from(`frame ${i};`));
    for (const frame of frames) batch.add(frame);
    expect(writes).toHaveLength(0);
    await nextTick();
    expect(writes).toHaveLength(1);
    expect(writes[0]).toHaveLength(1);
    expect(writes[0]![0]!.equals(Buffer.concat(frames))).toBe(true);
  });

  it('references a large frame instead of copying it, in order', async () => {
    const { socket, writes } = recordingSocket();
    const batch = new WriteBatch(socket, () => {});
    const large = Buffer.alloc(10_000, 9);
    batch.add(Buffer.from('a'));
    batch.add([Buffer.from('b'), large, Buffer.from('c')]);
    await nextTick();
    const sent = writes.flat();
    expect(sent.some((piece) => piece.buffer === large.buffer)).toBe(true);
    expect(Buffer.concat(sent).equals(Buffer.concat([Buffer.from('ab'), large, Buffer.from('c')]))).toBe(true);
  });

  it('never writes over bytes the socket still holds, across ticks and full slabs', async () => {
    const { socket, writes } = recordingSocket();
    // A socket that never finishes a write keeps every chunk it was given.
    socket.cork();
    const batch = new WriteBatch(socket, () => {});
    const expected: Buffer[] = [];
    for (let tick = 0; tick < 40; tick++) {
      for (let i = 0; i < 300; i++) {
        const frame = Buffer.alloc(1 + ((tick * 7 + i) % 600), (tick * 31 + i) & 0xff);
        expected.push(frame);
        batch.add(frame);
      }
      await nextTick();
    }
    socket.uncork();
    await nextTick();
    expect(Buffer.concat(writes.flat()).equals(Buffer.concat(expected))).toBe(true);
  });

  it('takes boxes encoded in place: the same bytes as boxes encoded on their own', async () => {
    const value = fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.string({ maxLength: 40 }), fc.constant(undefined));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.uniqueArray(fc.stringMatching(/^[a-z_]{1,6}$/), { maxLength: 6 }), fc.array(value, { maxLength: 6 })), { maxLength: 40 }),
        async (boxes) => {
          const { socket, writes } = recordingSocket();
          const batch = new WriteBatch(socket, () => {});
          const expected: Buffer[] = [];
          for (const [names, values] of boxes) {
            const keys = [...names].sort(compareKeys);
            const wire = keys.map((_, i) => values[i]);
            expected.push(encodeSortedPairs(keys, wire));
            const frame = encodeSortedPairsParts(keys, wire, 1024, batch);
            if (frame !== undefined) batch.add(frame);
          }
          await nextTick();
          expect(Buffer.concat(writes.flat()).equals(Buffer.concat(expected))).toBe(true);
        },
      ),
    );
  });
});

describe('WriteBatch and leased values', () => {
  /** A 60 KB value leased from a tracked buffer, as the master's FileReader hands out download blocks. */
  function leasedBlock(forSending = true): Buffer {
    const buffer = Buffer.allocUnsafeSlow(64 * 1024);
    trackSlab(buffer, forSending);
    const block = buffer.subarray(0, 60_000);
    leaseView(block);
    return block;
  }

  /** Writes `block` through a WriteBatch on a real TCP socket; resolves once the socket has written it. */
  async function writtenOverTcp(block: Buffer): Promise<void> {
    const server = createServer((socket) => socket.resume());
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(socket, 'connect');
    try {
      const batch = new WriteBatch(socket, () => {});
      batch.add(encodeSortedPairsParts(['data'], [block], 8192));
      batch.flush();
      await new Promise<void>((done) => socket.write(Buffer.alloc(0), () => done()));
    } finally {
      socket.destroy();
      server.close();
    }
  }

  it('releases a leased value once a kernel socket has written it', async () => {
    const block = leasedBlock();
    expect(isLeased(block)).toBe(true);
    await writtenOverTcp(block);
    expect(isLeased(block)).toBe(false);
  });

  it('leaves a lease on received memory to its holder (a download block being written to disk)', async () => {
    const block = leasedBlock(false);
    await writtenOverTcp(block);
    expect(isLeased(block)).toBe(true);
  });

  it('keeps the lease when the stream may hand the very buffer on (an in-memory pair)', async () => {
    const { socket, writes } = recordingSocket();
    const batch = new WriteBatch(socket, () => {});
    const block = leasedBlock();
    batch.add(encodeSortedPairsParts(['data'], [block], 8192));
    batch.flush();
    await nextTick();
    expect(writes.flat()).toContain(block);
    expect(isLeased(block)).toBe(true);
  });
});
