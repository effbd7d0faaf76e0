/**
 * A ByteStream sent to real Twisted: the peer declares StreamOpen, StreamWrite, StreamClose and the
 * command as ordinary AMP commands and reassembles the value (docs/amp-protocol.md §3.7).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AmpConnection } from '../../actors/amp-connection.js';
import { connect } from '../../actors/connect.js';
import { MAX_VALUE_LENGTH } from '../../codec/box.js';
import { describeInteropEach } from '../interop/support.js';
import { digest, patternBytes } from './commands.js';
import { PeerUpload, startPythonStreamServer, type PythonStreamServer } from './stream-peer.js';

describeInteropEach('a ByteStream received by a Twisted peer through ordinary commands', (peer) => {
  let python: PythonStreamServer;
  let connection: AmpConnection;

  beforeAll(async () => {
    python = await startPythonStreamServer(peer);
    connection = await connect(`tcp:host=127.0.0.1:port=${python.port}`);
  });

  afterAll(async () => {
    connection?.close();
    await connection?.closed;
    await python?.stop();
  });

  it('reassembles a 1 MB value sent as StreamOpen, the command, StreamWrites of at most 65535 bytes, StreamClose', async () => {
    const value = patternBytes(1_000_000, 7);
    const answer = await connection.callRemote(PeerUpload, { name: 'big', content: value });
    expect(answer).toMatchObject({ size: value.length, sha256: digest(value), largest: MAX_VALUE_LENGTH, chunks: Math.ceil(value.length / MAX_VALUE_LENGTH) });
    expect(answer.order[0]).toBe('StreamOpen');
    expect(answer.order[1]).toBe('Upload');
    expect(new Set(answer.order.slice(2))).toEqual(new Set(['StreamWrite', 'StreamClose']));
    expect(answer.order.at(-1)).toBe('StreamClose');
  });
});
