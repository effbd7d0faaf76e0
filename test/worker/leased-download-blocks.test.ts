/**
 * A download's blocks are written from the worker's read slab: the answer is leased while its box
 * is delivered (BoxDispatcher's `leaseAnswer`), each block readBlock hands out carries a lease of
 * its own, and the slab is unclaimed once every block has been given back.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AmpConnection } from '../../actors/amp-connection.js';
import { BoxDispatcher, type CallOptions } from '../../actors/amp/dispatcher.js';
import { AmpCommandChannel } from '../../actors/worker/command-channel.js';
import { DecodedBox } from '../../codec/decoded-box.js';
import { DownloadRead } from '../../codec/protocols/worker-commands.js';
import { isUnclaimed, leaseView, releaseView, trackSlab, type SlabRecord } from '../../codec/slab-leases.js';

/** `length` bytes in a tracked slab, as a read answer's value would lie in the worker's read slab. */
function slabBytes(length: number): { record: SlabRecord; data: Buffer } {
  const slab = Buffer.allocUnsafeSlow(length + 100);
  for (let i = 0; i < length; i++) slab[i] = i & 0xff;
  return { record: trackSlab(slab), data: slab.subarray(0, length) };
}

/** A connection that answers each DownloadRead with `answers` in turn, leasing as the dispatcher does. */
function answering(answers: Buffer[]): AmpConnection {
  return {
    callRemote(command: unknown, _args: unknown, options?: CallOptions) {
      if (command !== DownloadRead) return Promise.resolve({});
      const data = answers.shift() ?? Buffer.alloc(0);
      options?.leaseAnswer?.({ data });
      return Promise.resolve({ data });
    },
  } as unknown as AmpConnection;
}

function channel(connection: AmpConnection, transferWindow: number): AmpCommandChannel {
  const channel = new AmpCommandChannel(connection, 'cmd', { transferWindow, logger: pino({ enabled: false }) });
  channel.release();
  return channel;
}

describe('AmpCommandChannel.readBlock leases', () => {
  // Two reads of 3000 are issued ahead; later, smaller reads are cut from the second answer.
  it('leases each block it hands out, and gives up the answer once all of it is handed out', async () => {
    const first = slabBytes(3000);
    const second = slabBytes(3000);
    const reader = channel(answering([first.data, second.data]), 2);
    const whole = await reader.readBlock(3000);
    expect(whole.equals(first.data)).toBe(true);
    const pieces = [await reader.readBlock(1000), await reader.readBlock(1000), await reader.readBlock(1000)];
    expect(Buffer.concat(pieces).equals(second.data)).toBe(true);
    expect(isUnclaimed(second.record)).toBe(false);
    releaseView(pieces[0]!);
    releaseView(pieces[1]!);
    expect(isUnclaimed(second.record)).toBe(false);
    releaseView(pieces[2]!);
    expect(isUnclaimed(second.record)).toBe(true);
    expect(isUnclaimed(first.record)).toBe(false);
    releaseView(whole);
    expect(isUnclaimed(first.record)).toBe(true);
  });

  it('gives up what was read but never handed out when the reader closes', async () => {
    const first = slabBytes(3000);
    const second = slabBytes(3000);
    const reader = channel(answering([first.data, second.data]), 2);
    releaseView(await reader.readBlock(3000));
    releaseView(await reader.readBlock(1000));
    expect(isUnclaimed(second.record)).toBe(false);
    await reader.closeReader();
    expect(isUnclaimed(second.record)).toBe(true);
  });
});

describe('BoxDispatcher leaseAnswer', () => {
  function dispatcher(): BoxDispatcher {
    return new BoxDispatcher({ sendRequest: () => {}, requestSink: () => undefined, onCommand: () => {}, onProtocolError: () => {} });
  }

  /** A DownloadRead answer for tag 1 whose data lies in a tracked slab. */
  function answer(): { record: SlabRecord; box: DecodedBox } {
    const slab = Buffer.allocUnsafeSlow(100);
    slab.write('1data', 0, 'latin1');
    const record = trackSlab(slab);
    const box = new DecodedBox();
    box.add('_answer', slab, 0, 1);
    box.add('data', slab, 1, 5);
    return { record, box };
  }

  it('lets the caller lease the answer while its box is delivered, then disowns the box', async () => {
    const calls = dispatcher();
    const { record, box } = answer();
    const result = calls.track(1, DownloadRead, { leaseAnswer: (value: { data: Buffer }) => leaseView(value.data) });
    calls.ampBoxReceived(box);
    expect(box.disowned).toBe(true);
    expect(isUnclaimed(record)).toBe(false);
    const { data } = await result;
    expect(data.toString()).toBe('data');
    releaseView(data);
    expect(isUnclaimed(record)).toBe(true);
  });

  it('leaves every other answer to pin its slab', async () => {
    const calls = dispatcher();
    const { box } = answer();
    const result = calls.track(1, DownloadRead);
    calls.ampBoxReceived(box);
    expect(box.disowned).toBe(false);
    expect((await result).data.toString()).toBe('data');
  });
});
