/**
 * Logs that a hostile peer cannot use as an amplifier (issue #12 item 7): a peer's protocol error
 * is one warn line per connection, without a stack, within a process-wide budget, and what the
 * budget holds back is summed up in one line.
 */
import * as net from 'node:net';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeBox } from '../../codec/encode-box.js';
import { listen, type AmpServer } from '../../actors/connect.js';
import { LogRateLimiter } from '../../actors/log-rate-limit.js';
import { configurePeerFaultLogging, flushPeerFaultLog, reportPeerFault } from '../../actors/peer-fault-log.js';
import { responders } from '../../actors/responders.js';
import { Hello, greet } from '../fixtures/commands.js';

interface Captured {
  readonly logger: Logger;
  readonly lines: string[];
}

function capturingLogger(level = 'warn'): Captured {
  const lines: string[] = [];
  return { logger: pino({ level }, { write: (line: string) => lines.push(line) }), lines };
}

/** About 40 bytes each, every kind of fault a peer can commit before saying anything useful. */
const GARBAGE: readonly Buffer[] = [
  // A key length prefix over 255.
  Buffer.from('\x01\x00this is not an AMP box at all, really!!', 'latin1'),
  // A box with none of _command, _answer, _error.
  encodeBox({ hello: 'there', padding: 'xxxxxxxxxxxxxxxx' }),
  // An answer to a question nobody asked.
  encodeBox({ _answer: 'ffff', padding: 'xxxxxxxxxxxxxxxxxxx' }),
  // A fire-and-forget command nobody handles.
  encodeBox({ _command: 'NoSuchCommand', padding: 'xxxxxxxxxx' }),
  // A fire-and-forget Hello whose count is not an integer.
  encodeBox({ _command: 'Hello', count: 'many', name: 'xxxxxxxx' }),
];

/** Connects, sends the garbage, and waits for the server to hang up. */
function hostileConnection(port: number, garbage: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(garbage));
    socket.on('data', () => undefined);
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
}

describe('2000 hostile connections sending garbage', () => {
  const CONNECTIONS = 2000;
  const BUDGET = 10;
  const captured = capturingLogger();
  let server: AmpServer;

  beforeAll(async () => {
    // A window longer than the test: the budget alone bounds the lines, whatever the machine's speed.
    configurePeerFaultLogging({ lines: BUDGET, windowMs: 3_600_000 });
    server = await listen('tcp:0:interface=127.0.0.1', {
      logger: captured.logger,
      responders: () => responders().on(Hello, ({ count, name }) => greet(count, name)),
    });
  });
  afterAll(async () => {
    await server.close({ closeConnections: true });
    configurePeerFaultLogging({ lines: 10, windowMs: 1000 });
  });

  // Each connection starts its control machines: a few milliseconds, more on a shared machine.
  it('write the budget, one summary, and no stack', { timeout: 300_000 }, async () => {
    const port = (server.address as net.AddressInfo).port;
    const batch = 100;
    for (let start = 0; start < CONNECTIONS; start += batch) {
      await Promise.all(Array.from({ length: batch }, (_, i) => hostileConnection(port, GARBAGE[(start + i) % GARBAGE.length]!)));
    }
    flushPeerFaultLog();

    const lines = captured.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(BUDGET + 1);
    for (const line of lines) {
      expect(line.level).toBe(40);
      expect(line).not.toHaveProperty('err');
      expect(line).not.toHaveProperty('stack');
      expect(JSON.stringify(line)).not.toMatch(/\n\s+at /);
    }
    const faults = lines.slice(0, BUDGET);
    for (const fault of faults) {
      expect(fault.msg).toMatch(/^(protocol error|bad request) in AMP: dropping connection$/);
      expect(fault.code).toMatch(/^AMP_ERR_/);
      expect(fault.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    }
    expect(lines[BUDGET]).toMatchObject({ suppressed: CONNECTIONS - BUDGET, msg: `suppressed ${CONNECTIONS - BUDGET} protocol-error lines` });
    // What 2000 × ~40 bytes received cost in log: a few kilobytes, not megabytes.
    expect(captured.lines.join('').length).toBeLessThan(BUDGET * 400 + 200);
  });
});

describe('a peer fault', () => {
  afterAll(() => configurePeerFaultLogging({ lines: 10, windowMs: 1000 }));

  it('is written once per connection at warn; the same connection’s later faults go to debug', () => {
    configurePeerFaultLogging({ lines: 100, windowMs: 3_600_000 });
    const { logger, lines } = capturingLogger('debug');
    const connection = logger.child({ connection: 1 });
    for (let i = 0; i < 3; i++) reportPeerFault(connection, 'undecodable frame dropped', new Error('bad'), () => 'peer');
    expect(lines.map((line) => (JSON.parse(line) as { level: number }).level)).toEqual([40, 20, 20]);
  });
});

describe('LogRateLimiter', () => {
  afterAll(() => vi.useRealTimers());

  it('admits `lines` per window, sums up the rest when the window ends, then admits again', () => {
    vi.useFakeTimers();
    const { logger, lines } = capturingLogger();
    const limiter = new LogRateLimiter({ lines: 3, windowMs: 1000 }, 'test');
    const admitted = Array.from({ length: 10 }, () => limiter.admit(logger));
    expect(admitted.filter(Boolean)).toHaveLength(3);
    expect(lines).toHaveLength(0);
    vi.advanceTimersByTime(1000);
    expect(lines.map((line) => JSON.parse(line) as object)).toEqual([expect.objectContaining({ suppressed: 7, msg: 'suppressed 7 test lines' })]);
    expect(limiter.admit(logger)).toBe(true);
    vi.advanceTimersByTime(1000);
    // A window that held nothing back writes no summary.
    expect(lines).toHaveLength(1);
  });
});
