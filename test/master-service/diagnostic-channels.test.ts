/**
 * Commands and transfers a program runs with RemoteCommand and the transfer helpers directly (not
 * through the admin API) reach the farm's event feed and the metrics, through the master's
 * diagnostic channels; a master's feed ignores the commands of another master in the process.
 */
import { join } from 'node:path';
import { filter, firstValueFrom, type Observable } from 'rxjs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FarmEvent } from '../../actors/master/admin/farm-events.js';
import { FarmMetrics } from '../../actors/master/admin/metrics.js';
import type { Connection } from '../../actors/master/connection-api.js';
import { PasswordHash } from '../../actors/master/password-hash.js';
import { RemoteCommand } from '../../actors/master/remote-command.js';
import { MasterService } from '../../actors/master/service/master-service.js';
import { uploadFile } from '../../actors/master/transfers.js';
import { WorkerSession } from '../../actors/worker/session.js';
import { temporaryDirectory } from '../support/temp-directory.js';

const WORKER = 'direct';
const PASSWORD = 'direct-secret';

/** A master service (no admin server) in this process with one real worker attached. */
class DirectFarm {
  readonly root = temporaryDirectory('ampstate-direct-commands-');
  readonly service = new MasterService({
    dir: this.root,
    // No admin server here (no `dashboard` endpoint): the token is never asked for.
    token: 'unused',
    logger: pino({ level: 'silent' }),
    config: {
      listen: 'tcp:0:interface=127.0.0.1',
      masterBasedir: 'master-files',
      workers: { [WORKER]: { passwordHash: PasswordHash.create(PASSWORD).toString() } },
    },
  });
  private worker: WorkerSession | undefined;
  connection!: Connection;

  async start(): Promise<void> {
    const { amp } = await this.service.start();
    const attached = firstValueFrom(this.service.farm.events.events$.pipe(filter((event) => event.type === 'worker-attached')));
    this.worker = new WorkerSession({
      master: `tcp:127.0.0.1:${amp.port}`,
      name: WORKER,
      password: PASSWORD,
      basedir: join(this.root, 'worker'),
      environ: { PATH: process.env.PATH },
      logger: pino({ level: 'silent' }),
    }).start();
    await attached;
    const connection = this.service.farm.connection(WORKER);
    if (connection === undefined) throw new Error('the worker attached but is not in the farm');
    this.connection = connection;
  }

  async stop(): Promise<void> {
    await this.worker?.stop();
    await this.service.stop();
  }
}

/** Everything `events$` emits while `during` runs. */
async function collect(events$: Observable<FarmEvent>, during: () => Promise<unknown>): Promise<FarmEvent[]> {
  const seen: FarmEvent[] = [];
  const subscription = events$.subscribe((event) => seen.push(event));
  try {
    await during();
  } finally {
    subscription.unsubscribe();
  }
  return seen;
}

describe('commands run directly, outside the admin API', () => {
  const farm = new DirectFarm();
  const other = new DirectFarm();
  let metrics: FarmMetrics;

  beforeAll(async () => {
    await Promise.all([farm.start(), other.start()]);
    metrics = new FarmMetrics(farm.service.farm.events);
  }, 30_000);

  afterAll(async () => {
    metrics.close();
    await Promise.all([farm.stop(), other.stop()]);
  });

  it('puts a RemoteCommand\'s start, output and end on the feed and counts it in the metrics', async () => {
    const command = new RemoteCommand('shell', { command: ['sh', '-c', 'echo direct-out; exit 0'], workdir: 'build', logEnviron: false });
    const seen = await collect(farm.service.farm.events.events$, async () => {
      const result = await command.run(farm.connection, 'admin');
      expect(result.results).toBe(0);
    });
    const mine = seen.filter((event) => 'commandId' in event && event.commandId === command.commandId);
    expect(mine.map((event) => event.type)).toEqual(expect.arrayContaining(['command-started', 'command-output', 'command-finished']));
    expect(mine[0]).toMatchObject({ type: 'command-started', worker: WORKER, command: 'shell', summary: 'sh -c echo direct-out; exit 0' });
    expect(mine.filter((event) => event.type === 'command-output').map((event) => event.text).join('')).toContain('direct-out\n');
    expect(mine.at(-1)).toMatchObject({ type: 'command-finished', worker: WORKER, rc: 0, results: 0 });
    const text = await metrics.render();
    expect(text).toMatch(/ampstate_commands_total\{result="success"\} 1\n/);
    expect(text).toMatch(/ampstate_command_duration_seconds_count\{command="shell"\} 1\n/);
  });

  it('counts the bytes of a transfer run with the helpers', async () => {
    const write = await new RemoteCommand('shell', { command: ['sh', '-c', 'printf 0123456789 > ten.txt'], workdir: 'build', logEnviron: false }).run(farm.connection, 'admin');
    expect(write.results).toBe(0);
    const seen = await collect(farm.service.farm.events.events$, async () => {
      const transfer = uploadFile(farm.connection, { builderName: 'admin', workersrc: 'ten.txt', masterdest: 'ten.txt', masterBasedir: farm.root });
      expect((await transfer.result).bytes).toBe(10);
    });
    expect(seen.filter((event) => event.type === 'transfer-progress').at(-1)).toMatchObject({ worker: WORKER, direction: 'from-worker', bytes: 10, done: true });
    expect(await metrics.render()).toMatch(/ampstate_transfer_bytes_total\{direction="from-worker"\} 10\n/);
  });

  it('leaves out the commands of another master in the same process', async () => {
    const seen = await collect(farm.service.farm.events.events$, () =>
      new RemoteCommand('shell', { command: ['true'], workdir: 'build', logEnviron: false }).run(other.connection, 'admin'),
    );
    expect(seen.filter((event) => event.type.startsWith('command-'))).toEqual([]);
  });
});
