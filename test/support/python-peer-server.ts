/**
 * A Python peer script run as a server (test/python/*_peer.py): it is ready when it first writes to
 * stdout, which is then its word (a JSON line), and it shuts down when its stdin closes.
 */
import { spawn } from 'node:child_process';
import { peerEnv, type TwistedPeer } from './twisted-peers.js';

export interface PythonPeerServer {
  /** What the peer first wrote to stdout. */
  readonly ready: string;
  /** Closes its stdin and waits for it to exit. */
  stop(): Promise<void>;
}

/** Runs `script args…` under `peer`'s Python; rejects, with its stderr, if it exits before it is ready. */
export function startPythonPeerServer(peer: TwistedPeer, script: string, args: readonly string[], label: string): Promise<PythonPeerServer> {
  const child = spawn(peer.python, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: peerEnv(peer) });
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
    child.once('exit', (code, signal) => reject(new Error(`${label} exited early (${code ?? signal}):\n${stderr}`)));
    child.stdout.setEncoding('utf8').once('data', (ready: string) => resolve({ ready, stop }));
  });
}
