/**
 * A farm on loopback inside the bench's process, for the "farm overhead per test" figure of
 * bench/trial.ts: an AMP listener with its admin API (the master's side) and one ampstate worker
 * (WorkerSession) logged in to it with the `admin` builder the master service gives every worker.
 * The same set-up as test/trial-farm/farm.ts, without the test-only helpers.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AdminClient } from '../../actors/master/admin/admin-client.js';
import { createAdminServer, type AdminServer } from '../../actors/master/admin/http-server.js';
import { ListenerFarm } from '../../actors/master/admin/listener-farm.js';
import { AmpListener } from '../../actors/master/listener.js';
import { WorkerSession } from '../../actors/worker/session.js';

const TOKEN = 'bench-token';
const logger = pino({ level: 'silent' });

export class LoopbackFarm {
  private constructor(
    private readonly listener: AmpListener,
    private readonly farm: ListenerFarm,
    private readonly admin: AdminServer,
    private readonly session: WorkerSession,
    readonly client: AdminClient,
  ) {}

  /** Starts the master side and worker `name`, and waits until the master can send it commands. */
  static async start(name: string, scratch: string): Promise<LoopbackFarm> {
    const listener = new AmpListener({ registrations: { [name]: { password: 'bench', builders: [['admin', 'admin']] } }, keepaliveIntervalMs: 0, logger });
    const farm = new ListenerFarm(mkdtempSync(join(scratch, 'farm-staging-')), logger);
    farm.watch('amp', listener);
    const address = await listener.start();
    const admin = await createAdminServer({ farm, token: TOKEN, endpoint: 'tcp:0:interface=127.0.0.1', logger });
    const baseUrl = await admin.listen();
    const session = new WorkerSession({
      master: `tcp:127.0.0.1:${address.port}`,
      name,
      password: 'bench',
      basedir: mkdtempSync(join(scratch ?? tmpdir(), `farm-${name}-`)),
      environ: { PATH: process.env.PATH, HOME: process.env.HOME },
      logger,
    }).start();
    const deadline = Date.now() + 30_000;
    while (farm.connection(name)?.info === undefined || !farm.attachedNames().includes(name)) {
      if (Date.now() > deadline) throw new Error(`farm worker ${name} did not attach`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return new LoopbackFarm(listener, farm, admin, session, new AdminClient(baseUrl, TOKEN));
  }

  async stop(): Promise<void> {
    await this.session.stop();
    await this.admin.close();
    await this.listener.stop();
    this.farm.close();
  }
}
