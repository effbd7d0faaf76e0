/**
 * The server under fuzzing: the project's own `listen()` on loopback with a few responders (sync,
 * async, fire-and-forget, one that can fail), logging through pino into a counter so a campaign
 * can report how much a refusal costs in log lines without printing them.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { pino } from 'pino';
import { listen, type AmpServer } from '../../actors/connect.js';
import { responders } from '../../actors/responders.js';
import { Delay, Echo, Hello, Ping, greet } from '../fixtures/commands.js';

/** Log lines by pino level name. */
export type LogCounts = Record<string, number>;

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export interface FuzzServer {
  readonly port: number;
  /** Connections the server has accepted and not yet seen close. */
  readonly open: number;
  readonly accepted: number;
  readonly logLines: LogCounts;
  close(): Promise<void>;
}

export async function startFuzzServer(): Promise<FuzzServer> {
  const logLines: LogCounts = {};
  const logger = pino(
    { level: 'warn' },
    {
      write(line: string) {
        const level = LEVEL_NAMES[Number(/"level":(\d+)/.exec(line)?.[1])] ?? 'other';
        logLines[level] = (logLines[level] ?? 0) + 1;
      },
    },
  );
  let open = 0;
  let accepted = 0;
  const server: AmpServer = await listen('tcp:0:interface=127.0.0.1', {
    logger,
    responders: () =>
      responders()
        .on(Hello, ({ count, name }) => greet(count, name))
        .on(Echo, ({ data }) => ({ data }))
        .on(Ping, () => ({}))
        // Async, but with no timer: whatever `ms` a mutated box asks for, nothing outlives the campaign.
        .on(Delay, async ({ id }) => {
          await nextTurn();
          return { id };
        }),
    onConnection: (connection) => {
      open++;
      accepted++;
      void connection.closed.then(() => open--);
    },
  });
  const address = server.address;
  if (typeof address === 'string') throw new TypeError(`expected a TCP address, got ${address}`);
  return {
    port: address.port,
    get open() {
      return open;
    },
    get accepted() {
      return accepted;
    },
    logLines,
    close: () => server.close({ closeConnections: true }),
  };
}
