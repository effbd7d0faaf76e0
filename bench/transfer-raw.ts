/**
 * The raw TCP yardstick for bench/transfer: both ends run as child processes (as the ampstate
 * worker does), so the two ends do not share a process and the bench process carries neither:
 *
 *   node dist/bench/transfer-raw.js send PORT FILE   connects to 127.0.0.1:PORT and streams FILE
 *                                                    down a plain socket (fs stream → socket),
 *                                                    then prints {"cpu_seconds": C, "rss_growth_bytes": G}
 *   node dist/bench/transfer-raw.js receive [FILE]   listens, prints {"port": N}, takes one
 *                                                    connection, writes what arrives to FILE
 *                                                    (or drops it), then prints
 *                                                    {"bytes": B, "seconds": S, "cpu_seconds": C,
 *                                                    "rss_growth_bytes": G}
 *                                                    and exits
 *
 * The receiver times from the connection to the end of the stream (and, with FILE, until the last
 * write is done), the same span bench/transfer times for the ampstate transfer. `cpu_seconds` is
 * the user + system time the process spent over the same span (sender: the whole send), and
 * `rss_growth_bytes` how far the process's peak RSS rose above its RSS at the start of that span:
 * plain Node sockets' own memory floor, set beside ampstate's in the same run.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import * as net from 'node:net';
import { pipeline } from 'node:stream/promises';
import { currentRss, peakRss, resetPeakRss } from './transfer/memory.js';

const [mode, ...rest] = process.argv.slice(2);

async function send(port: number, file: string): Promise<void> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const cpu = process.cpuUsage();
  const rss = rssGrowthFromNow();
  await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), socket);
  process.stdout.write(`${JSON.stringify({ cpu_seconds: cpuSecondsSince(cpu), rss_growth_bytes: rss() })}\n`);
}

/** Starts a span: the function it gives returns how far peak RSS rose above the RSS now. */
function rssGrowthFromNow(): () => number {
  resetPeakRss('self');
  const before = currentRss('self');
  return () => peakRss('self') - before;
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1e6;
}

/** Receives one connection on `server`; resolves with the byte count and the seconds it took. */
function receiveOne(server: net.Server, file: string | undefined): Promise<{ bytes: number; seconds: number; cpu_seconds: number; rss_growth_bytes: number }> {
  return new Promise((resolve, reject) => {
    server.once('connection', (socket) => {
      const began = performance.now();
      const cpu = process.cpuUsage();
      const rss = rssGrowthFromNow();
      let bytes = 0;
      socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
      const sink =
        file === undefined
          ? (async () => {
              socket.resume();
              await new Promise<void>((done, fail) => socket.once('end', done).once('error', fail));
            })()
          : pipeline(socket, createWriteStream(file));
      sink.then(() => resolve({ bytes, seconds: (performance.now() - began) / 1000, cpu_seconds: cpuSecondsSince(cpu), rss_growth_bytes: rss() }), reject);
    });
  });
}

async function main(): Promise<void> {
  if (mode === 'send') {
    const [port, file] = rest;
    if (port === undefined || file === undefined) throw new Error('usage: transfer-raw send PORT FILE');
    await send(Number(port), file);
    return;
  }
  if (mode === 'receive') {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const received = receiveOne(server, rest[0]);
    process.stdout.write(`${JSON.stringify({ port: (server.address() as net.AddressInfo).port })}\n`);
    const result = await received;
    server.close();
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  throw new Error(`unknown mode ${String(mode)} (send or receive)`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`transfer-raw: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
