/**
 * The descriptor-passing side of the interop harness: the commands of test/python/descriptor_peer.py
 * declared in TS, that peer run as a server or a client, and a TS server with the same responders.
 */
import { spawn } from 'node:child_process';
import { closeSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { listen, type AmpServer } from '../../actors/connect.js';
import { responders } from '../../actors/responders.js';
import { loadUsocket } from '../../actors/unix-fd-socket.js';
import { amp, defineCommand } from '../../codec/index.js';
import type { PeerAvailability } from '../support/describe-with-peer.js';
import { startPythonPeerServer } from '../support/python-peer-server.js';
import { peerEnv } from '../support/twisted-peers.js';
import { PYTHON_DIR, TWISTED_22_4, pythonAvailability } from './support.js';

export const DESCRIPTOR_PEER = join(PYTHON_DIR, 'descriptor_peer.py');

export const MakePipe = defineCommand({ name: 'MakePipe', response: { reader: amp.Descriptor, writer: amp.Descriptor } });
export const ReadPipe = defineCommand({
  name: 'ReadPipe',
  arguments: { reader: amp.Descriptor, length: amp.IntegerNumber },
  response: { data: amp.String },
});
export const WritePipe = defineCommand({ name: 'WritePipe', arguments: { writer: amp.Descriptor, data: amp.String } });
/** Declared out of key order: descriptors are numbered in declaration order, b before a. */
export const Bounce = defineCommand({
  name: 'Bounce',
  arguments: { b: amp.Descriptor, a: amp.Descriptor },
  response: { b: amp.Descriptor, a: amp.Descriptor },
});
export const Ordinals = defineCommand({ name: 'Ordinals', response: { received: amp.ListOf(amp.IntegerNumber) } });

/** Twisted 22.4 and the native addon both present. */
export function descriptorPeerAvailability(): PeerAvailability {
  const python = pythonAvailability();
  if (!python.available) return python;
  try {
    loadUsocket();
    return { available: true, reason: '' };
  } catch (error) {
    return { available: false, reason: `${(error as Error).message} (npm ci builds it)` };
  }
}

/** Reads exactly `length` bytes from a blocking descriptor (the bytes are already in the pipe). */
export function readExactly(fd: number, length: number): string {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const count = readSync(fd, buffer, filled, length - filled, null);
    if (count === 0) break;
    filled += count;
  }
  return buffer.subarray(0, filled).toString();
}

export interface PythonDescriptorServer {
  stop(): Promise<void>;
}

/** descriptor_peer.py listening on `path`; resolves once it says so. */
export function startPythonDescriptorServer(path: string): Promise<PythonDescriptorServer> {
  return startPythonPeerServer(TWISTED_22_4, DESCRIPTOR_PEER, ['server', '--path', path], 'descriptor_peer.py server');
}

/** descriptor_peer.py's client scenario against `path`: its one JSON line. */
export function runPythonDescriptorClient(path: string): Promise<Record<string, unknown>> {
  const child = spawn(TWISTED_22_4.python, [DESCRIPTOR_PEER, 'client', '--path', path], { stdio: ['ignore', 'pipe', 'pipe'], env: peerEnv(TWISTED_22_4) });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((resolve, reject) => {
    child.once('exit', () => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch {
        reject(new Error(`descriptor_peer.py client printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}

export interface TsDescriptorServer {
  readonly server: AmpServer;
  /** The Descriptor ordinals the TS responders read in request boxes, as they were on the wire. */
  readonly requestOrdinals: string[];
  /** Closes the server and what Bounce kept open. */
  stop(): Promise<void>;
}

/**
 * A TS server with descriptor_peer.py's responders. What Bounce sends back stays open until `stop`,
 * as a sender must keep a descriptor open until it has been written.
 */
export async function startTsDescriptorServer(path: string): Promise<TsDescriptorServer> {
  const requestOrdinals: string[] = [];
  const keepOpen: number[] = [];
  const record = (box: ReadonlyMap<string, Buffer>, keys: readonly string[]) => {
    for (const key of keys) requestOrdinals.push(box.get(key)!.toString());
  };
  const server = await listen(`unix:path=${path}:fds=yes`, {
    responders: () =>
      responders()
        .on(ReadPipe, ({ reader, length }, { box }) => {
          record(box, ['reader']);
          const data = readExactly(reader, length);
          closeSync(reader);
          return { data: Buffer.from(data) };
        })
        .on(WritePipe, ({ writer, data }, { box }) => {
          record(box, ['writer']);
          writeSync(writer, data);
          closeSync(writer);
          return {};
        })
        .on(Bounce, ({ a, b }, { box }) => {
          record(box, ['a', 'b']);
          keepOpen.push(a, b);
          return { a, b };
        })
        .on(Ordinals, () => ({ received: requestOrdinals.map(Number) })),
  });
  const stop = async () => {
    await server.close({ closeConnections: true });
    for (const fd of keepOpen.splice(0)) closeSync(fd);
  };
  return { server, requestOrdinals, stop };
}
