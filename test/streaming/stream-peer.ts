/**
 * test/python/stream_peer.py run as a server: real Twisted receiving a ByteStream through ordinary
 * commands it declares itself.
 */
import { join } from 'node:path';
import { amp, defineCommand } from '../../codec/index.js';
import { PYTHON_DIR } from '../interop/support.js';
import { startPythonPeerServer } from '../support/python-peer-server.js';
import type { TwistedPeer } from '../support/twisted-peers.js';

export const STREAM_PEER = join(PYTHON_DIR, 'stream_peer.py');

/** stream_peer.py's Upload: the stream it read, and the commands it saw, in order. */
export const PeerUpload = defineCommand({
  name: 'Upload',
  arguments: { name: amp.Unicode, content: amp.ByteStream },
  response: { size: amp.IntegerNumber, sha256: amp.Unicode, chunks: amp.IntegerNumber, largest: amp.IntegerNumber, order: amp.ListOf(amp.Unicode) },
});

export interface PythonStreamServer {
  readonly port: number;
  stop(): Promise<void>;
}

export async function startPythonStreamServer(peer: TwistedPeer): Promise<PythonStreamServer> {
  const { ready, stop } = await startPythonPeerServer(peer, STREAM_PEER, ['server'], 'stream_peer.py');
  const { listening } = JSON.parse(ready) as { listening: number };
  return { port: listening, stop };
}
