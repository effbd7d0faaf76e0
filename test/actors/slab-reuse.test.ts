/**
 * Read slabs are read into again only when nothing can read them any more (actors/read-slab.ts,
 * codec/slab-leases.ts): a box its consumer kept, a view that escaped the codec, a lease not yet
 * released, or bytes the decoder still holds each keep a slab from being written over.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ReadSlab, registerSlabReader, unreadBy } from '../../actors/read-slab.js';
import { BoxDecoder } from '../../codec/box-decoder.js';
import { DecodedBox } from '../../codec/decoded-box.js';
import { encodeBox } from '../../codec/index.js';
import { leaseView, pinSlabOf, releaseView } from '../../codec/slab-leases.js';

const SLAB = 4096;
const MIN_READ = 1024;

/** Bytes that differ from block to block and from offset to offset, so a slab written over shows. */
function block(seed: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

/** A ReadSlab of constant small "large" slabs, reused whenever `unread` says so. */
function slabs(unread: (memory: ArrayBufferLike) => boolean = () => true): ReadSlab {
  return new ReadSlab(SLAB, MIN_READ, SLAB, unread);
}

/**
 * Fills one slab with reads of `size`, returning what each read got. It stops before asking for
 * the next slab: the choice of that one is the reuse under test.
 */
function fill(slab: ReadSlab, size: number): Buffer[] {
  const reads: Buffer[] = [];
  for (;;) {
    const target = slab.next();
    const read = slab.take(target, Math.min(size, target.length));
    reads.push(read);
    if (target.length - read.length < MIN_READ) return reads;
  }
}

describe('ReadSlab reuse', () => {
  it('reads into a slab again once it is unclaimed and its readers hold none of it', () => {
    const slab = slabs();
    const first = fill(slab, 1000);
    fill(slab, 1000);
    // The first slab went round: nothing pinned or leased it.
    expect(slab.next().buffer).toBe(first[0]!.buffer);
  });

  it('never reads into a slab a view of which escaped', () => {
    const slab = slabs();
    const first = fill(slab, 1000);
    pinSlabOf(first[1]!);
    const seen = new Set<ArrayBufferLike>([first[0]!.buffer]);
    for (let i = 0; i < 20; i++) {
      const next = fill(slab, 1000)[0]!;
      expect(next.buffer).not.toBe(first[0]!.buffer);
      seen.add(next.buffer);
    }
    expect(seen.size).toBeLessThan(20);
  });

  it('waits for a lease to be released', () => {
    const slab = slabs();
    const first = fill(slab, 1000);
    leaseView(first[2]!);
    for (let i = 0; i < 3; i++) expect(fill(slab, 1000)[0]!.buffer).not.toBe(first[0]!.buffer);
    releaseView(first[2]!);
    const again = [0, 1, 2, 3].map(() => fill(slab, 1000)[0]!.buffer);
    expect(again).toContain(first[0]!.buffer);
  });

  it('waits while a reader still holds bytes of the slab', () => {
    let held: ArrayBufferLike | undefined;
    const slab = slabs((memory) => memory !== held);
    const first = fill(slab, 1000);
    held = first[0]!.buffer;
    for (let i = 0; i < 3; i++) expect(fill(slab, 1000)[0]!.buffer).not.toBe(held);
    held = undefined;
    expect([0, 1, 2, 3].map(() => fill(slab, 1000)[0]!.buffer)).toContain(first[0]!.buffer);
  });

  it('reads into nothing again by default (no reader registered)', () => {
    const slab = new ReadSlab(SLAB, MIN_READ, SLAB);
    const first = fill(slab, 1000);
    for (let i = 0; i < 10; i++) expect(fill(slab, 1000)[0]!.buffer).not.toBe(first[0]!.buffer);
  });
});

describe('registerSlabReader', () => {
  const memory = new ArrayBuffer(8);

  it('is what lets a socket reuse slabs, while every data listener is a registered reader that holds none', () => {
    const socket = new PassThrough();
    expect(unreadBy(socket, memory)).toBe(false);
    let holding = false;
    const unregister = registerSlabReader(socket, { holds: () => holding });
    socket.on('data', () => {});
    expect(unreadBy(socket, memory)).toBe(true);
    holding = true;
    expect(unreadBy(socket, memory)).toBe(false);
    holding = false;
    // A listener nobody registered might keep what it is given.
    const stranger = () => {};
    socket.on('data', stranger);
    expect(unreadBy(socket, memory)).toBe(false);
    socket.off('data', stranger);
    // Bytes still queued in the stream.
    socket.pause();
    socket.write('queued');
    expect(unreadBy(socket, memory)).toBe(false);
    socket.read();
    expect(unreadBy(socket, memory)).toBe(true);
    unregister();
    expect(unreadBy(socket, memory)).toBe(false);
  });
});

describe('BoxDecoder and slab reuse', () => {
  /**
   * Sends `values` through a ReadSlab and a BoxDecoder in reads of `readSize`, as a socket would;
   * `consume` gets each box and says whether to disown it.
   */
  function stream(values: Buffer[], readSize: number, consume: (box: DecodedBox, index: number) => boolean): { reused: boolean } {
    const wire = Buffer.concat(values.map((data) => encodeBox({ data })));
    let decoder: BoxDecoder;
    const slab = new ReadSlab(SLAB * 4, MIN_READ, SLAB * 4, (memory) => !decoder.holds(memory));
    let index = 0;
    decoder = new BoxDecoder({
      onBox: (box) => {
        if (consume(box as DecodedBox, index++)) (box as DecodedBox).disown();
      },
      onError: (error) => {
        throw error;
      },
    });
    const memories = new Set<ArrayBufferLike>();
    let slabStarts = 0;
    for (let at = 0; at < wire.length; ) {
      const target = slab.next();
      const length = Math.min(readSize, target.length, wire.length - at);
      wire.copy(target, 0, at, at + length);
      at += length;
      const chunk = slab.take(target, length);
      memories.add(chunk.buffer);
      if (chunk.byteOffset === 0) slabStarts++;
      decoder.push(chunk);
    }
    return { reused: memories.size < slabStarts };
  }

  const values = Array.from({ length: 400 }, (_, i) => block(i, 700 + (i % 5) * 300));

  it('writes over no box that was kept: a box not disowned pins its slab', () => {
    const kept: { index: number; data: Buffer }[] = [];
    const { reused } = stream(values, 1500, (box, index) => {
      if (index % 37 === 0) {
        kept.push({ index, data: box.get('data')! });
        return false;
      }
      return true;
    });
    expect(reused).toBe(true);
    for (const { index, data } of kept) expect(data.equals(values[index]!)).toBe(true);
  });

  it('writes over no leased view before it is released', () => {
    // Every 11th value is leased and given back 40 boxes later (a block written to disk meanwhile).
    const leased: { index: number; data: Buffer }[] = [];
    let checked = 0;
    const { reused } = stream(values, 1500, (box, index) => {
      while (leased.length > 0 && leased[0]!.index < index - 40) {
        const { index: at, data } = leased.shift()!;
        expect(data.equals(values[at]!)).toBe(true);
        releaseView(data);
        checked++;
      }
      if (index % 11 === 0) {
        const data = box.get('data')!;
        leaseView(data);
        leased.push({ index, data });
      }
      return true;
    });
    expect(reused).toBe(true);
    expect(checked).toBeGreaterThan(30);
    for (const { index, data } of leased) expect(data.equals(values[index]!)).toBe(true);
  });

  it('reuses nothing when every box is kept, and every value stays intact', () => {
    const kept: Buffer[] = [];
    const { reused } = stream(values, 1500, (box) => {
      kept.push(box.get('data')!);
      return false;
    });
    expect(reused).toBe(false);
    kept.forEach((data, i) => expect(data.equals(values[i]!)).toBe(true));
  });

  it('reads into no slab that holds part of a value still arriving', () => {
    // Reads fill whole slabs, so a value split across two slabs is read over if its first part is not held.
    let intact = 0;
    const { reused } = stream(values, SLAB * 4, (box, index) => {
      expect(box.get('data')!.equals(values[index]!)).toBe(true);
      intact++;
      return true;
    });
    expect(reused).toBe(true);
    expect(intact).toBe(values.length);
  });

  it('pins every slab a kept box lies in, not only the one it ended in', () => {
    let decoder: BoxDecoder;
    const slab = new ReadSlab(SLAB, MIN_READ, SLAB, (memory) => !decoder.holds(memory));
    let kept: DecodedBox | undefined;
    decoder = new BoxDecoder({
      onBox: (box) => {
        if (kept === undefined) kept = box as DecodedBox;
        else (box as DecodedBox).disown();
      },
      onError: () => {},
    });
    // The kept box's first value fills most of one slab; its second ends in the next one.
    const first = block(1, 3000);
    const filler = Array.from({ length: 60 }, (_, i) => encodeBox({ data: block(i + 2, 2000) }));
    const wire = Buffer.concat([encodeBox({ a: first, b: block(99, 3000) }), ...filler]);
    for (let at = 0; at < wire.length; ) {
      const target = slab.next();
      const length = Math.min(target.length, wire.length - at);
      wire.copy(target, 0, at, at + length);
      at += length;
      decoder.push(slab.take(target, length));
    }
    expect(kept!.get('a')!.equals(first)).toBe(true);
    expect(kept!.get('b')!.equals(block(99, 3000))).toBe(true);
  });

  it('holds the bytes of an unfinished string and of the box still open', () => {
    const decoder = new BoxDecoder({ onBox: () => {}, onError: () => {} });
    const wire = encodeBox({ first: block(1, 100), second: block(2, 100) });
    const memory = Buffer.allocUnsafeSlow(wire.length);
    wire.copy(memory);
    // Inside the second value: the first value (open box) and the partial string are both held.
    decoder.push(memory.subarray(0, 150));
    expect(decoder.holds(memory.buffer)).toBe(true);
    decoder.push(memory.subarray(150));
    expect(decoder.holds(memory.buffer)).toBe(false);
  });

  it('pins what it hands over to another protocol', () => {
    const slab = slabs();
    // The box is disowned: only the hand-over can be what pins the slab.
    const decoder = new BoxDecoder({
      onBox: (box) => {
        (box as DecodedBox).disown();
        decoder.pause();
      },
      onError: () => {},
    });
    const wire = Buffer.concat([encodeBox({ a: Buffer.from('1') }), Buffer.from('next protocol')]);
    const target = slab.next();
    wire.copy(target);
    decoder.push(slab.take(target, wire.length));
    const [rest] = decoder.takeUnparsed();
    expect(rest!.toString()).toBe('next protocol');
    fill(slab, 1000);
    for (let i = 0; i < 5; i++) expect(fill(slab, 1000)[0]!.buffer).not.toBe(rest!.buffer);
  });
});

describe('large straddling values', () => {
  /** Each value is split between two chunks in different memory, so the decoder must copy it. */
  function splitEach(values: Buffer[], consume: (box: DecodedBox, index: number) => boolean): Set<ArrayBufferLike> {
    const memories = new Set<ArrayBufferLike>();
    let index = 0;
    const decoder = new BoxDecoder({
      onBox: (box) => {
        const value = (box as DecodedBox).get('data')!;
        memories.add(value.buffer);
        if (consume(box as DecodedBox, index++)) (box as DecodedBox).disown();
      },
      onError: (error) => {
        throw error;
      },
    });
    for (const value of values) {
      const wire = Buffer.from(encodeBox({ data: value }));
      decoder.push(Buffer.from(wire.subarray(0, 1000)));
      decoder.push(Buffer.from(wire.subarray(1000)));
    }
    return memories;
  }

  const large = Array.from({ length: 40 }, (_, i) => block(i, 20_000 + i));

  it('copies large straddling values into a few buffers that go round once released', () => {
    const leased: { index: number; data: Buffer }[] = [];
    const memories = splitEach(large, (box, index) => {
      while (leased.length > 3) {
        const { index: at, data } = leased.shift()!;
        expect(data.equals(large[at]!)).toBe(true);
        releaseView(data);
      }
      const data = box.get('data')!;
      expect(data.equals(large[index]!)).toBe(true);
      leaseView(data);
      leased.push({ index, data });
      return true;
    });
    expect(memories.size).toBeLessThanOrEqual(8);
    for (const { index, data } of leased) expect(data.equals(large[index]!)).toBe(true);
  });

  it('never copies into a buffer a kept box still refers to, and is not clogged by such buffers', () => {
    const kept: Buffer[] = [];
    const later = new Set<ArrayBufferLike>();
    const memories = splitEach(large, (box, index) => {
      const data = box.get('data')!;
      if (index < 10) {
        kept.push(data);
        return false;
      }
      // Copied, checked and let go at once: these should share one or two buffers.
      expect(data.equals(large[index]!)).toBe(true);
      later.add(data.buffer);
      return true;
    });
    expect(memories.size).toBeLessThan(large.length);
    expect(later.size).toBeLessThanOrEqual(2);
    kept.forEach((data, i) => expect(data.equals(large[i]!)).toBe(true));
  });

  it('never copies two values of one open box into the same buffer', () => {
    const decoder = new BoxDecoder({
      onBox: (box) => {
        const decoded = box as DecodedBox;
        expect(decoded.get('a')!.equals(large[0]!)).toBe(true);
        expect(decoded.get('b')!.equals(large[1]!)).toBe(true);
        decoded.disown();
      },
      onError: (error) => {
        throw error;
      },
    });
    for (let i = 0; i < 3; i++) {
      const wire = Buffer.from(encodeBox({ a: large[0]!, b: large[1]! }));
      // Both values straddle two chunks in different memory.
      for (const [from, to] of [[0, 1000], [1000, 25_000], [25_000, wire.length]] as const) decoder.push(Buffer.from(wire.subarray(from, to)));
    }
  });
});
