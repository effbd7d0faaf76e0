import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AmpConnection } from '../../actors/amp-connection.js';
import { responders, type ResponderTable } from '../../actors/responders.js';
import { MAX_VALUE_LENGTH } from '../../codec/box.js';
import { Upload, patternBytes } from './commands.js';

const TOTAL = 100 * 1024 * 1024;
/** Generous: holding the whole value would take 100 MB at least; the stream layer holds well under 1 MB. */
const FLAT_BOUND = 64 * 1024 * 1024;

/** The memory a process holds that a whole buffered value would show in. */
function held(): number {
  const usage = process.memoryUsage();
  return Math.max(usage.rss, usage.heapUsed + usage.external);
}

/** A probe sampled from inside the data path (no timers): the highest growth seen. */
function memoryProbe() {
  const base = held();
  let peak = 0;
  return {
    sample: () => (peak = Math.max(peak, held() - base)),
    get peakGrowth() {
      return peak;
    },
  };
}

/** 100 MB produced a piece at a time, never held; the same pattern piece is reused. */
async function* hundredMegabytes(onPiece: () => void) {
  const piece = patternBytes(MAX_VALUE_LENGTH * 4);
  for (let sent = 0; sent < TOTAL; sent += piece.length) {
    onPiece();
    yield piece.subarray(0, Math.min(piece.length, TOTAL - sent));
  }
}

function expectedDigest(): string {
  const piece = patternBytes(MAX_VALUE_LENGTH * 4);
  const hash = createHash('sha256');
  for (let sent = 0; sent < TOTAL; sent += piece.length) hash.update(piece.subarray(0, Math.min(piece.length, TOTAL - sent)));
  return hash.digest('hex');
}

function readingResponders(onPiece: () => void): ResponderTable {
  return responders().on(Upload, async ({ content }) => {
    const hash = createHash('sha256');
    let size = 0;
    for await (const piece of content) {
      onPiece();
      hash.update(piece);
      size += piece.length;
    }
    return { size, sha256: hash.digest('hex') };
  });
}

let server: Server | undefined;
afterEach(() => server?.close());

async function tcpPair(serverTable: ResponderTable, clientTable: ResponderTable) {
  const accepted = new Promise<AmpConnection>((resolve) => {
    server = createServer((socket) => resolve(new AmpConnection(socket, { role: 'server', responders: serverTable, streams: true })));
  });
  server!.listen(0, '127.0.0.1');
  await once(server!, 'listening');
  const socket = connect((server!.address() as AddressInfo).port, '127.0.0.1');
  await once(socket, 'connect');
  return { client: new AmpConnection(socket, { role: 'client', responders: clientTable, streams: true }), server: await accepted };
}

describe('a 100 MB ByteStream over loopback TCP', () => {
  it('arrives whole in both directions while memory stays flat', async () => {
    const probe = memoryProbe();
    const { client, server: accepted } = await tcpPair(readingResponders(probe.sample), readingResponders(probe.sample));
    const sha256 = expectedDigest();
    await expect(client.callRemote(Upload, { name: 'up', content: hundredMegabytes(probe.sample) })).resolves.toEqual({ size: TOTAL, sha256 });
    await expect(accepted.callRemote(Upload, { name: 'down', content: hundredMegabytes(probe.sample) })).resolves.toEqual({ size: TOTAL, sha256 });
    process.stdout.write(`[large-value] peak memory growth over 2 x 100 MB: ${(probe.peakGrowth / 1048576).toFixed(1)} MB\n`);
    expect(probe.peakGrowth).toBeLessThan(FLAT_BOUND);
    client.close();
    await accepted.closed;
  }, 120_000);
});
