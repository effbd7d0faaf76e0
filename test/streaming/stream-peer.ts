/**
 * test/python/stream_peer.py run as a server: real Twisted receiving a ByteStream through ordinary
 * commands it declares itself.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { amp, defineCommand } from '../../codec/index.js';
import { PYTHON_DIR } from '../interop/support.js';
import { peerEnv, type TwistedPeer } from '../support/twisted-peers.js';

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

export function startPythonStreamServer(peer: TwistedPeer): Promise<PythonStreamServer> {
  const child = spawn(peer.python, [STREAM_PEER, 'server'], { stdio: ['pipe', 'pipe', 'pipe'], env: peerEnv(peer) });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin.end();
      await exited;
    }
  };
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`stream_peer.py exited early (${code ?? signal}):\n${stderr}`)));
    child.stdout.setEncoding('utf8').once('data', (line: string) => {
      const { listening } = JSON.parse(line) as { listening: number };
      resolve({ port: listening, stop });
    });
  });
}
