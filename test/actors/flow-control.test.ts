/**
 * Flow control (docs/amp-protocol.md §6): a peer that does not read our answers, or a responder
 * that never finishes, must make our side stop reading (backpressure travels back to the peer
 * through TCP) instead of buffering without bound. Each scenario runs twice: with the limits, and
 * with the limits set to Infinity to measure how far the buffering would otherwise go (the flood is
 * capped so the unlimited run cannot exhaust the machine).
 *
 * A raw TCP peer floods Echo-shaped requests with 60 KB values at an AmpConnection server over
 * loopback. Measured without --expose-gc: the server socket's writableLength and readableLength,
 * the decoder's buffered bytes, handler invocations, and process.memoryUsage().arrayBuffers.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AmpConnection, type AmpConnectionEvent } from '../../actors/amp-connection.js';
import { responders } from '../../actors/responders.js';
import { BoxDecoder, amp, defineCommand } from '../../codec/index.js';
import { Echo } from '../fixtures/commands.js';

const MB = 1 << 20;
/** Upper bound of the flood: 200 MB of requests. */
const FLOOD_BYTES = 200 * MB;
const VALUE = Buffer.alloc(60 * 1024, 0x61);
/** The peer counts as stalled when the socket refused more for this long. */
const STALL_MS = 1000;

/** A command whose responder never answers (the "slow responder"). */
const Stall = defineCommand({ name: 'Stall', arguments: { data: amp.String }, response: { data: amp.String } });

interface Limits {
  readonly maxWriteBuffer: number;
  readonly maxConcurrentResponses: number;
}

interface Measurement {
  /** Bytes the flooding peer managed to hand to its socket. */
  sentBytes: number;
  requestsSent: number;
  /** Whether the flood stopped because the peer's socket would take no more. */
  stalled: boolean;
  /** Max over samples of our server socket's writableLength + readableLength + decoder buffer. */
  maxBuffered: number;
  maxWritable: number;
  /** Max growth of process.memoryUsage().arrayBuffers over the baseline. */
  maxArrayBufferGrowth: number;
  handlerCalls: number;
  /** Bytes pinned by pending handlers' arguments (distinct backing ArrayBuffers). */
  retainedByHandlers: number;
  events: AmpConnectionEvent[];
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanup.splice(0)) fn();
});

function decoderBuffered(connection: AmpConnection): number {
  // The decoder is private; its buffered count is what a paused connection holds back.
  return (connection as unknown as { transport: { decoder: BoxDecoder } }).transport.decoder.bufferedLength;
}

/**
 * Starts an AmpConnection server with the given limits, floods it from a raw socket that does not
 * read, and samples our side's buffers until the flood has stalled or reached FLOOD_BYTES.
 */
async function flood(kind: 'slow-peer' | 'slow-responder', limits: Limits) {
  let handlerCalls = 0;
  const kept: Buffer[] = [];
  const table = responders()
    .on(Echo, ({ data }) => {
      handlerCalls++;
      return { data };
    })
    // Keeps its argument, as a responder that is still working on it would.
    .on(Stall, ({ data }) => {
      handlerCalls++;
      kept.push(data);
      return new Promise<never>(() => {});
    });
  const events: AmpConnectionEvent[] = [];
  let serverSide: { connection: AmpConnection; socket: net.Socket } | undefined;
  const server = net.createServer((socket) => {
    const connection = new AmpConnection(socket, { role: 'server', responders: table, ...limits });
    connection.events$.subscribe((event) => events.push(event));
    serverSide = { connection, socket };
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const peer = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((done) => peer.once('connect', done));
  cleanup.push(() => {
    peer.destroy();
    serverSide?.connection.abort();
    server.close();
    kept.length = 0;
  });
  while (serverSide === undefined) await new Promise((done) => setImmediate(done));
  const { connection, socket } = serverSide;

  const baseline = process.memoryUsage().arrayBuffers;
  const measurement: Measurement = {
    sentBytes: 0,
    requestsSent: 0,
    stalled: false,
    maxBuffered: 0,
    maxWritable: 0,
    maxArrayBufferGrowth: 0,
    handlerCalls: 0,
    retainedByHandlers: 0,
    events,
  };
  const sample = () => {
    const buffered = socket.writableLength + socket.readableLength + decoderBuffered(connection);
    measurement.maxBuffered = Math.max(measurement.maxBuffered, buffered);
    measurement.maxWritable = Math.max(measurement.maxWritable, socket.writableLength);
    measurement.maxArrayBufferGrowth = Math.max(measurement.maxArrayBufferGrowth, process.memoryUsage().arrayBuffers - baseline);
  };
  const sampler = setInterval(sample, 10);
  cleanup.push(() => clearInterval(sampler));

  // The peer never reads: no 'data' listener, and reading is stopped outright.
  peer.pause();
  const command = kind === 'slow-peer' ? Echo : Stall;
  let tag = 0;
  while (measurement.sentBytes < FLOOD_BYTES) {
    const request = command.encodeRequest((++tag).toString(16), { data: VALUE });
    measurement.sentBytes += request.length;
    measurement.requestsSent++;
    if (peer.write(request)) continue;
    const drained = await new Promise<boolean>((done) => {
      const timer = setTimeout(() => {
        peer.off('drain', onDrain);
        done(false);
      }, STALL_MS);
      const onDrain = () => {
        clearTimeout(timer);
        done(true);
      };
      peer.once('drain', onDrain);
    });
    if (!drained) {
      measurement.stalled = true;
      break;
    }
  }
  // Let our side process whatever reached it, then take the final samples.
  await new Promise((done) => setTimeout(done, 300));
  sample();
  clearInterval(sampler);
  measurement.handlerCalls = handlerCalls;
  measurement.retainedByHandlers = [...new Set(kept.map((data) => data.buffer))].reduce((sum, buffer) => sum + buffer.byteLength, 0);
  return { measurement, peer, connection, socket, limits };
}

/** Reads every answer the peer gets from now on; resolves with how many arrived. */
function readAnswers(peer: net.Socket, expected: number, timeoutMs: number): Promise<number> {
  let answers = 0;
  const decoder = new BoxDecoder({ onBox: () => answers++, onError: () => {} });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(answers), timeoutMs);
    peer.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      if (answers >= expected) {
        clearTimeout(timer);
        resolve(answers);
      }
    });
    peer.resume();
  });
}

function report(name: string, m: Measurement): void {
  const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;
  process.stderr.write(
    `[flow-control] ${name}: peer sent ${mb(m.sentBytes)} (${m.requestsSent} requests, stalled=${m.stalled}), ` +
      `our buffers max ${mb(m.maxBuffered)} (write ${mb(m.maxWritable)}), arrayBuffers +${mb(m.maxArrayBufferGrowth)}, ` +
      `handlers called ${m.handlerCalls} holding ${mb(m.retainedByHandlers)}, events ${m.events.map((e) => (e.type === 'paused' ? `paused(${e.reason})` : e.type)).join(',')}\n`,
  );
}

const LIMITED: Limits = { maxWriteBuffer: 1 * MB, maxConcurrentResponses: 16 };
const UNLIMITED: Limits = { maxWriteBuffer: Infinity, maxConcurrentResponses: Infinity };

describe('flow control against a flooding peer', () => {
  it('slow peer (never reads our answers): we pause reading once 1 MB of answers is queued', async () => {
    const limited = await flood('slow-peer', LIMITED);
    const m = limited.measurement;
    report('slow peer, limits', m);
    expect(m.events).toContainEqual({ type: 'paused', reason: 'write-buffer' });
    // Backpressure reached the peer: its writes stopped long before the 200 MB were out.
    expect(m.stalled).toBe(true);
    expect(m.sentBytes).toBeLessThan(64 * MB);
    // What we hold is the limit plus at most one answer and one socket read, not the flood.
    expect(m.maxWritable).toBeLessThan(LIMITED.maxWriteBuffer + 2 * VALUE.length);
    expect(m.maxBuffered).toBeLessThan(2 * MB);
    expect(m.maxArrayBufferGrowth).toBeLessThan(64 * MB);

    // Not a deadlock: once the peer reads, we resume and every request sent so far is answered.
    const answered = await readAnswers(limited.peer, m.requestsSent, 20_000);
    expect(answered).toBe(m.requestsSent);
    expect(m.events.concat()).toContainEqual({ type: 'resumed' });
    expect(limited.connection.isClosed).toBe(false);
  });

  it('slow peer without limits (Infinity): the answers pile up in memory instead', async () => {
    const { measurement: m } = await flood('slow-peer', UNLIMITED);
    report('slow peer, Infinity', m);
    expect(m.events.some((event) => event.type === 'paused')).toBe(false);
    // Nothing pushed back: the whole capped flood went out and its answers sit in our write buffer.
    expect(m.stalled).toBe(false);
    expect(m.sentBytes).toBeGreaterThanOrEqual(FLOOD_BYTES);
    expect(m.maxWritable).toBeGreaterThan(150 * MB);
    expect(m.maxBuffered).toBeGreaterThan(75 * LIMITED.maxWriteBuffer);
    // (arrayBuffers growth is reported, not asserted: whether an earlier test's garbage is
    // collected meanwhile decides how much of it shows.)
  });

  it('slow responder (never resolves): we pause reading at maxConcurrentResponses handlers', async () => {
    const { measurement: m } = await flood('slow-responder', LIMITED);
    report('slow responder, limits', m);
    expect(m.events).toContainEqual({ type: 'paused', reason: 'responders' });
    expect(m.handlerCalls).toBe(LIMITED.maxConcurrentResponses);
    expect(m.stalled).toBe(true);
    expect(m.sentBytes).toBeLessThan(64 * MB);
    expect(m.maxBuffered).toBeLessThan(2 * MB);
    expect(m.retainedByHandlers).toBeLessThan(LIMITED.maxConcurrentResponses * 128 * 1024);
    expect(m.maxArrayBufferGrowth).toBeLessThan(64 * MB);
  });

  it('slow responder without limits (Infinity): every request becomes a pending handler holding its data', async () => {
    const { measurement: m } = await flood('slow-responder', UNLIMITED);
    report('slow responder, Infinity', m);
    expect(m.events.some((event) => event.type === 'paused')).toBe(false);
    expect(m.stalled).toBe(false);
    expect(m.handlerCalls).toBe(m.requestsSent);
    expect(m.handlerCalls).toBeGreaterThan(150 * LIMITED.maxConcurrentResponses);
    // The whole capped flood is pinned by handlers that never finish (arrayBuffers: see above).
    expect(m.retainedByHandlers).toBeGreaterThan(150 * MB);
  });
});
