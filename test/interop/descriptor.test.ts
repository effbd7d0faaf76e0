/**
 * amp.Descriptor against real Twisted, both ways: pipes made on one side travel over the UNIX socket
 * as SCM_RIGHTS, the bytes written at one end come out at the other, and both ends number the
 * descriptors as Twisted does (docs/amp-protocol.md §3.6).
 */
import { closeSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AmpConnection } from '../../actors/amp-connection.js';
import { connect } from '../../actors/connect.js';
import { describeWithPeer } from '../support/describe-with-peer.js';
import { temporaryDirectory } from '../support/temp-directory.js';
import {
  Bounce,
  MakePipe,
  Ordinals,
  ReadPipe,
  WritePipe,
  descriptorPeerAvailability,
  readExactly,
  runPythonDescriptorClient,
  startPythonDescriptorServer,
  startTsDescriptorServer,
  type PythonDescriptorServer,
} from './descriptor-peer.js';

describeWithPeer('amp.Descriptor with Twisted 22.4 over a UNIX socket', descriptorPeerAvailability(), () => {
  let directory: string;
  let python: PythonDescriptorServer;
  let connection: AmpConnection;
  const opened: number[] = [];

  beforeAll(async () => {
    directory = temporaryDirectory('ampstate-descriptors-');
    const path = join(directory, 'twisted.sock');
    python = await startPythonDescriptorServer(path);
    connection = await connect(`unix:path=${path}:fds=yes`);
  });

  afterAll(async () => {
    connection?.close();
    await connection?.closed;
    await python?.stop();
    for (const fd of opened) closeSync(fd);
  });

  it('TS client, Twisted server: the ordinals of an answer are 0, 1, … as Twisted numbers them', async () => {
    const raw = await connection.callRemoteString('MakePipe');
    expect([raw.get('reader')?.toString(), raw.get('writer')?.toString()]).toEqual(['0', '1']);
  });

  it('TS client, Twisted server: a pipe made by Twisted carries bytes from TS to Twisted', async () => {
    const pipe = await connection.callRemote(MakePipe, {});
    opened.push(pipe.writer);
    writeSync(pipe.writer, 'from typescript');
    const { data } = await connection.callRemote(ReadPipe, { reader: pipe.reader, length: 15 });
    closeSync(pipe.reader);
    expect(data.toString()).toBe('from typescript');
  });

  it('TS client, Twisted server: Twisted writes into a descriptor TS sent, TS reads it', async () => {
    const pipe = await connection.callRemote(MakePipe, {});
    opened.push(pipe.reader);
    await connection.callRemote(WritePipe, { writer: pipe.writer, data: Buffer.from('from python') });
    closeSync(pipe.writer);
    expect(readExactly(pipe.reader, 11)).toBe('from python');
  });

  it('TS client, Twisted server: two descriptors in one box go there and back', async () => {
    const pipe = await connection.callRemote(MakePipe, {});
    opened.push(pipe.reader, pipe.writer);
    const bounced = await connection.callRemote(Bounce, { a: pipe.reader, b: pipe.writer });
    opened.push(bounced.a, bounced.b);
    writeSync(bounced.b, 'round trip');
    expect(readExactly(pipe.reader, 10)).toBe('round trip');
    // Twisted read our requests' ordinals: ReadPipe 0, WritePipe 1, Bounce b 2 and a 3 (declaration
    // order, as Twisted numbers them), recorded a first.
    const { received } = await connection.callRemote(Ordinals, {});
    expect(received).toEqual([0, 1, 3, 2]);
  });

  it('Twisted client, TS server: pipes made by Twisted travel to TS and back, numbered alike', async () => {
    const ts = await startTsDescriptorServer(join(directory, 'ampstate.sock'));
    try {
      const result = await runPythonDescriptorClient(join(directory, 'ampstate.sock'));
      expect(result).toEqual({
        ok: true,
        read_there: 'from python',
        written_there: 'from typescript',
        round_trip: 'round trip',
        again: 'again',
        // What Twisted read in the TS server's two Bounce answers (b numbered first, recorded a first).
        answer_ordinals: [1, 0, 3, 2],
      });
      // What TS read in Twisted's requests: ReadPipe 0, WritePipe 1, then each Bounce's b and a,
      // recorded a first.
      expect(ts.requestOrdinals).toEqual(['0', '1', '3', '2', '5', '4']);
    } finally {
      await ts.stop();
    }
  });
});
