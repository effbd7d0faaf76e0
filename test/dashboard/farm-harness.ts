/**
 * A real master for the dashboard tests: the master service in this process (AMP listener, admin
 * server on loopback, the dashboard plugged in) and a real worker session attaching over loopback
 * TCP. The front end is compiled from dashboard/src into a temp directory first, so the test
 * always drives the current sources.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { dashboard } from '../../actors/master/dashboard/register-dashboard.js';
import { PasswordHash } from '../../actors/master/password-hash.js';
import { MasterService } from '../../actors/master/service/master-service.js';
import { WorkerSession } from '../../actors/worker/session.js';
import { temporaryDirectory } from '../support/temp-directory.js';

const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const FRONT_END_TSCONFIG = new URL('../../dashboard/tsconfig.json', import.meta.url).pathname;

export const WORKER_NAME = 'w1';
const WORKER_PASSWORD = 'dashboard-secret';

/** Compiles the front end; returns the directory of its modules. */
export async function buildFrontEnd(): Promise<string> {
  const outDir = temporaryDirectory('ampstate-dashboard-ui-');
  await promisify(execFile)(process.execPath, [TSC, '-p', FRONT_END_TSCONFIG, '--outDir', outDir]);
  return outDir;
}

export class DashboardFarm {
  readonly root = temporaryDirectory('ampstate-dashboard-farm-');
  readonly token = 'dashboard-test-token';
  private service: MasterService | undefined;
  private worker: WorkerSession | undefined;
  private ampPort = 0;
  dashboardUrl = '';

  async start(assetsDirectory: string): Promise<void> {
    this.service = new MasterService({
      dir: this.root,
      token: this.token,
      logger: pino({ level: 'silent' }),
      config: {
        listen: 'tcp:0:interface=127.0.0.1',
        dashboard: 'tcp:0:interface=127.0.0.1',
        masterBasedir: 'master-files',
        workers: { [WORKER_NAME]: { passwordHash: PasswordHash.create(WORKER_PASSWORD).toString() } },
      },
      registerDashboard: dashboard({ assetsDirectory }),
    });
    const addresses = await this.service.start();
    this.ampPort = addresses.amp.port;
    this.dashboardUrl = addresses.dashboardUrl ?? '';
  }

  startWorker(): void {
    this.worker = new WorkerSession({
      master: `tcp:127.0.0.1:${this.ampPort}`,
      name: WORKER_NAME,
      password: WORKER_PASSWORD,
      basedir: join(this.root, 'worker'),
      environ: { PATH: process.env.PATH, HOME: process.env.HOME },
      logger: pino({ level: 'silent' }),
    }).start();
  }

  async stopWorker(): Promise<void> {
    await this.worker?.stop();
    this.worker = undefined;
  }

  /** The admin API, with the token. */
  api(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.dashboardUrl}${path}`, { ...init, headers: { authorization: `Bearer ${this.token}`, ...init.headers } });
  }

  async stop(): Promise<void> {
    await this.stopWorker();
    await this.service?.stop();
  }
}
