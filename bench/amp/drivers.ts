/**
 * The clients bench/amp measures with: ampstate's AmpConnection making typed Hello and Echo calls,
 * and plain TCP with a 4-byte length prefix, the limit. Each runs the same three workloads.
 */
import * as net from 'node:net';
import { connect } from '../../actors/connect.js';
import { Echo, Hello } from '../../test/fixtures/commands.js';
import { FrameReader, frame } from '../raw-framing.js';

export const ECHO_SIZE = 61_440;
/** Pipelined calls in flight. */
const WINDOW = 1000;
const ECHO_WINDOW = 8;

/** One client connection that can run the three measurements; each returns a rate. */
export interface Driver {
  sequential(calls: number): Promise<number>;
  pipelined(calls: number): Promise<number>;
  /** Megabytes (10^6 payload bytes one way) per second of 60 KB Echo calls. */
  echo(megabytes: number): Promise<number>;
  /** The processes doing the work: this one and the server child. */
  readonly pids: readonly (number | 'self')[];
  readonly errors: number;
  close(): Promise<void>;
}

/** Echo calls that move `megabytes` of payload. */
export const echoCalls = (megabytes: number) => Math.max(1, Math.ceil((megabytes * 1e6) / ECHO_SIZE));

/** Runs `total` operations with `window` in flight; `start(i, done)` begins one. Returns seconds. */
function windowed(total: number, window: number, start: (i: number, done: () => void) => void): Promise<number> {
  return new Promise((resolveSeconds) => {
    let sent = 0;
    let finished = 0;
    const began = performance.now();
    const done = () => {
      finished++;
      if (sent < total) start(sent++, done);
      else if (finished === total) resolveSeconds((performance.now() - began) / 1000);
    };
    const initial = Math.min(window, total);
    for (let i = 0; i < initial; i++) start(sent++, done);
  });
}

/** Hello counts 1000..100999, like amp_peer.py: never one of the magic counts. */
const safeCount = (i: number) => 1000 + (i % 100_000);
const BENCH_NAME = Buffer.from('bench');
const GREETING_HEAD = 'hi bench x';
const GREETING_TAIL = ' é';

/** `text === \`hi bench x${count} é\``, without building that string for every answer. */
function isGreeting(text: string, count: number): boolean {
  const end = text.length - GREETING_TAIL.length;
  if (end <= GREETING_HEAD.length || !text.startsWith(GREETING_HEAD) || !text.endsWith(GREETING_TAIL)) return false;
  // Counts are 1000 or more: no leading zero.
  if (text.charCodeAt(GREETING_HEAD.length) === 0x30) return false;
  let value = 0;
  for (let at = GREETING_HEAD.length; at < end; at++) {
    const digit = text.charCodeAt(at) - 0x30;
    if (digit < 0 || digit > 9) return false;
    value = value * 10 + digit;
  }
  return value === count;
}

function makePayload(): Buffer {
  const payload = Buffer.allocUnsafe(ECHO_SIZE);
  for (let i = 0; i < ECHO_SIZE; i++) payload[i] = i & 0xff;
  return payload;
}

/** ampstate's AmpConnection as the client: typed Hello and Echo calls. */
export async function ampDriver(port: number, serverPid: number): Promise<Driver> {
  const client = await connect(`tcp:127.0.0.1:${port}`);
  let errors = 0;
  const hello = (i: number) => client.callRemote(Hello, { count: safeCount(i), name: BENCH_NAME });
  const checkHello = (i: number, greeting: string) => {
    if (!isGreeting(greeting, safeCount(i))) errors++;
  };
  const payload = makePayload();
  return {
    pids: ['self', serverPid],
    get errors() {
      return errors + (client.isClosed ? 1 : 0);
    },
    sequential: async (calls) => {
      const began = performance.now();
      for (let i = 0; i < calls; i++) checkHello(i, (await hello(i)).greeting);
      return calls / ((performance.now() - began) / 1000);
    },
    // WINDOW loops that each await one call at a time: how an application keeps calls in flight,
    // and without the closures and derived promise a `.then` per call costs.
    pipelined: async (calls) => {
      let next = 0;
      const lane = async () => {
        for (let i = next++; i < calls; i = next++) {
          try {
            checkHello(i, (await hello(i)).greeting);
          } catch {
            errors++;
          }
        }
      };
      const began = performance.now();
      await Promise.all(Array.from({ length: Math.min(WINDOW, calls) }, lane));
      return calls / ((performance.now() - began) / 1000);
    },
    echo: async (megabytes) => {
      const count = echoCalls(megabytes);
      const seconds = await windowed(count, ECHO_WINDOW, (_i, done) => {
        client.callRemote(Echo, { data: payload }).then(
          (answer) => {
            if (!answer.data.equals(payload)) errors++;
            done();
          },
          () => {
            errors++;
            done();
          },
        );
      });
      return (count * ECHO_SIZE) / 1e6 / seconds;
    },
    close: async () => {
      client.close();
      await client.closed;
    },
  };
}

/** A Hello request box is ~50 bytes: the raw sequential/pipelined messages have the same size. */
const RAW_SMALL = Buffer.alloc(50, 0x62);

/** Plain TCP with length-prefixed frames; answers come back in order, so a FIFO replaces tags. */
export async function rawDriver(port: number, serverPid: number): Promise<Driver> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((done, reject) => {
    socket.once('connect', done);
    socket.once('error', reject);
  });
  let errors = 0;
  const waiting: ((payload: Buffer) => void)[] = [];
  let head = 0;
  const reader = new FrameReader((payload) => {
    const callback = waiting[head]!;
    waiting[head++] = undefined as never;
    if (head > 4096 && head * 2 > waiting.length) {
      waiting.splice(0, head);
      head = 0;
    }
    callback(payload);
  });
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  // Messages sent in one tick leave in one writev (corked until the next tick).
  const send = (bytes: Buffer, callback: (payload: Buffer) => void) => {
    waiting.push(callback);
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    socket.write(frame(bytes));
  };
  const payload = makePayload();
  return {
    pids: ['self', serverPid],
    get errors() {
      return errors;
    },
    sequential: async (calls) => {
      const began = performance.now();
      for (let i = 0; i < calls; i++) {
        const answer = await new Promise<Buffer>((done) => send(RAW_SMALL, done));
        if (!answer.equals(RAW_SMALL)) errors++;
      }
      return calls / ((performance.now() - began) / 1000);
    },
    pipelined: async (calls) =>
      calls /
      (await windowed(calls, WINDOW, (_i, done) =>
        send(RAW_SMALL, (answer) => {
          if (!answer.equals(RAW_SMALL)) errors++;
          done();
        }),
      )),
    echo: async (megabytes) => {
      const count = echoCalls(megabytes);
      const seconds = await windowed(count, ECHO_WINDOW, (_i, done) =>
        send(payload, (answer) => {
          if (!answer.equals(payload)) errors++;
          done();
        }),
      );
      return (count * ECHO_SIZE) / 1e6 / seconds;
    },
    close: async () => {
      socket.destroy();
    },
  };
}
