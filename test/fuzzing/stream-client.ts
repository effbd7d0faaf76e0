/**
 * One fuzzed connection: a raw loopback socket that writes a stream and watches what the server
 * does about it. After a stream that ended between boxes it asks a probe call; after one that
 * ended inside a box it ends its side; after one the server must refuse it waits for the server to
 * close. The server's answers are parsed with the codec's decoder only to spot the probe's answer.
 */
import * as net from 'node:net';
import { BoxDecoder, encodeBox } from '../../codec/index.js';
import { PROBE_TAG } from './stream-corpus.js';
import type { Expectation } from './stream-expectation.js';

export type StreamOutcome =
  /** The server closed without the fuzzer ending its side. */
  | 'closed-by-server'
  /** The probe was answered (the connection was in a clean state); then the fuzzer closed. */
  | 'probe-answered'
  /** The fuzzer ended its side and the server then closed. */
  | 'closed-after-end'
  /** Nothing happened before the watchdog: the server is stuck (a violation whatever was expected). */
  | 'stuck'
  /** The fuzzer could not connect at all. */
  | 'connect-failed';

const PROBE = encodeBox({ _command: 'Hello', _ask: PROBE_TAG, count: '1', name: 'probe' });

/** Whether the outcome is what the server owes for a stream of that expectation. */
export function outcomeAllowed(expectation: Expectation, outcome: StreamOutcome): boolean {
  if (expectation === 'close') return outcome === 'closed-by-server';
  if (expectation === 'between-boxes') return outcome === 'closed-by-server' || outcome === 'probe-answered';
  return outcome === 'closed-by-server' || outcome === 'closed-after-end';
}

/**
 * Sends `stream` and resolves with what the server did. `watchdogMs` only keeps a stuck server from
 * hanging the campaign; it is far above anything a healthy server needs.
 */
export function sendStream(port: number, stream: Buffer, expectation: Expectation, watchdogMs: number): Promise<StreamOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    let connected = false;
    let ended = false;
    let probeAnswered = false;
    const endOurSide = () => {
      if (ended) return;
      ended = true;
      socket.end();
    };
    const decoder = new BoxDecoder({
      onBox: (box) => {
        if (box.get('_answer')?.toString('latin1') !== PROBE_TAG) return;
        probeAnswered = true;
        endOurSide();
      },
      onError: () => socket.destroy(),
    });
    const watchdog = setTimeout(() => {
      socket.destroy();
      finish('stuck');
    }, watchdogMs);
    let settled = false;
    const finish = (outcome: StreamOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(watchdog);
      resolve(outcome);
    };
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    // Resets and broken pipes are how a server that drops a connection mid-write looks from here.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (!connected) finish('connect-failed');
      else if (probeAnswered) finish('probe-answered');
      else finish(ended ? 'closed-after-end' : 'closed-by-server');
    });
    socket.once('connect', () => {
      connected = true;
      socket.write(expectation === 'between-boxes' ? Buffer.concat([stream, PROBE]) : stream);
      if (expectation === 'mid-box') endOurSide();
    });
  });
}
