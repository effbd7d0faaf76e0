/**
 * A real farm in this process: an AMP listener, its ListenerFarm and admin server on loopback, and
 * real ampstate workers (WorkerSession) logged in to it, each with the `admin` builder the master
 * service gives every worker. Plus a manager-side driver: an AmpConnection over a trial worker
 * host's `amp` pipe with trial's result responders, as the local manager has.
 */
import { pino } from 'pino';
import { AmpConnection } from '../../actors/amp-connection.js';
import { AmpListener } from '../../actors/master/listener.js';
import { AdminClient } from '../../actors/master/admin/admin-client.js';
import { createAdminServer, type AdminServer } from '../../actors/master/admin/http-server.js';
import { ListenerFarm } from '../../actors/master/admin/listener-farm.js';
import { ResultCollector, StreamRegistry } from '../../actors/trial/result-collector.js';
import type { TrialResult } from '../../actors/trial/results.js';
import type { TrialWorkerHost } from '../../actors/trial/worker-host.js';
import { WorkerSession } from '../../actors/worker/session.js';
import { Run, Start } from '../../codec/protocols/trial-commands.js';
import { temporaryDirectory } from '../support/temp-directory.js';

export const TOKEN = 'farm-token';
const logger = pino({ level: process.env.AMPSTATE_TEST_LOG ?? 'silent' });

export class Farm {
  readonly sessions = new Map<string, WorkerSession>();
  private constructor(
    readonly listener: AmpListener,
    readonly farm: ListenerFarm,
    readonly admin: AdminServer,
    readonly baseUrl: string,
    readonly workerEndpoint: string,
  ) {}

  static async start(workers: readonly string[]): Promise<Farm> {
    const registrations = Object.fromEntries(workers.map((name) => [name, { password: `pw-${name}`, builders: [['admin', 'admin']] as const }]));
    const listener = new AmpListener({ registrations, keepaliveIntervalMs: 0, logger });
    const farm = new ListenerFarm(temporaryDirectory('ampstate-farm-staging-'), logger);
    farm.watch('amp', listener);
    const address = await listener.start();
    const admin = await createAdminServer({ farm, token: TOKEN, endpoint: 'tcp:0:interface=127.0.0.1', logger });
    const baseUrl = await admin.listen();
    const running = new Farm(listener, farm, admin, baseUrl, `tcp:127.0.0.1:${address.port}`);
    for (const name of workers) await running.attach(name);
    return running;
  }

  client(token = TOKEN): AdminClient {
    return new AdminClient(this.baseUrl, token);
  }

  /** Starts worker `name` and waits until the master has its info (it can take commands then). */
  async attach(name: string): Promise<WorkerSession> {
    const session = new WorkerSession({
      master: this.workerEndpoint,
      name,
      password: `pw-${name}`,
      basedir: temporaryDirectory(`ampstate-farm-${name}-`),
      environ: { PATH: process.env.PATH, HOME: process.env.HOME },
      logger,
    }).start();
    this.sessions.set(name, session);
    const deadline = Date.now() + 10_000;
    while (this.farm.connection(name)?.info === undefined || !this.farm.attachedNames().includes(name)) {
      if (Date.now() > deadline) throw new Error(`worker ${name} did not attach`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return session;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((session) => session.stop()));
    await this.admin.close();
    await this.listener.stop();
    this.farm.close();
  }
}

/** The manager's side of one worker host: Start, then Runs, with results collected. */
export class TrialDriver {
  readonly connection: AmpConnection;
  readonly collector: ResultCollector;

  constructor(readonly host: TrialWorkerHost) {
    this.collector = new ResultCollector({ index: 0, dialect: 'auto', streams: new StreamRegistry(), logger });
    this.connection = new AmpConnection(host.amp, { responders: this.collector.responders(), logger, name: 'FarmWorkerAMP', role: 'client' });
    // As the manager's WorkerProcess: once the process is gone, what is still pending fails.
    void host.exited.then(() => {
      if (!this.connection.isClosed) this.connection.abort(new Error(`the trial worker on ${host.where} ended`));
    });
  }

  async start(): Promise<void> {
    await this.connection.callRemote(Start, { directory: this.host.startDirectory });
  }

  async run(test: string): Promise<TrialResult[]> {
    this.collector.begin(test);
    await this.connection.callRemote(Run, { testCase: test });
    return this.collector.end();
  }
}
