/**
 * The two workers the integration scenarios run against, behind one interface: an ampstate worker
 * (a WorkerSession in this process) on the AMP Listener, and a stock buildbot-worker 3.7 (a child
 * process) on the MsgpackListener. Each target owns its master listener, so a scenario can restart
 * the master, drop the connection, shut the worker down, or try a wrong password.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { filter, firstValueFrom, take, toArray, timer, takeUntil } from 'rxjs';
import { DEFAULT_WORKER_SETTINGS } from '../../actors/master/base-connection.js';
import type { BuilderList, Connection, WorkerSettings } from '../../actors/master/connection-api.js';
import { Listener } from '../../actors/master/listener.js';
import { MsgpackListener, MSGPACK_WORKER_SETTINGS, type MsgpackListenerOptions } from '../../actors/master/msgpack/listener.js';
import { ensureInfoFiles } from '../../actors/worker/daemon.js';
import { WorkerSession } from '../../actors/worker/session.js';
import { attachedEvent } from '../contract/harnesses.js';
import { nextAttached, quietLogger } from './msgpack-harness.js';
import { StockWorker } from './stock-worker.js';

export type TargetKind = 'ampstate' | 'stock';

export const BUILDER = 'b1';
export const BUILDDIR = 'b1dir';
const BUILDERS: BuilderList = [[BUILDER, BUILDDIR]];
const PASSWORD = 'pass:with:colons';
/** Output reaches the master within 0.2 s instead of Buildbot's 5 s, so the suite stays quick. */
const QUICK_OUTPUT = (base: WorkerSettings): WorkerSettings => ({ ...base, bufferTimeout: 0.2 });
/** A real keepalive with a deadline runs through every scenario. */
const KEEPALIVE = { keepaliveIntervalMs: 1000, keepaliveTimeoutMs: 5000 };

export interface WrongPasswordOutcome {
  /** How many attempts the master refused while we watched. */
  readonly refusals: number;
  /** What each refusal looked like (HTTP status, or the Login error). */
  readonly details: string[];
  readonly attached: boolean;
}

export interface TargetOptions {
  readonly name: string;
  /** Extra MsgpackListener options (stock only). */
  readonly msgpack?: Partial<MsgpackListenerOptions>;
}

export interface Target {
  readonly kind: TargetKind;
  readonly protocol: 'amp' | 'msgpack';
  /** The worker's base directory (real path). */
  readonly basedir: string;
  /** `<basedir>/b1dir`. */
  readonly builderDir: string;
  /** `<basedir>/b1dir/build`, the default workdir of shell commands and transfers. */
  readonly workdir: string;
  /** A scratch directory on the master's side, for transfers. */
  readonly masterDir: string;
  /** The attached connection now (replaced after a reattach). */
  readonly connection: Connection;
  /** Subscribes now; resolves (and updates `connection`) when the worker attaches again. */
  expectReattach(timeoutMs?: number): Promise<Connection>;
  /** Stops the master's listener, waits `downMs`, starts a fresh one on the same port. */
  restartMaster(downMs: number): Promise<Connection>;
  /** Resolves when the worker (process or session) has ended. */
  workerEnded(): Promise<void>;
  /** A second worker under the same name with a wrong password, watched for `watchMs`. */
  tryWrongPassword(watchMs: number): Promise<WrongPasswordOutcome>;
  /** What to print when a scenario fails. */
  diagnostics(): string;
  /** The stock worker's output and twistd.log ('' for the in-process ampstate worker). */
  workerLog(): string;
  teardown(): Promise<void>;
}

function realTempDir(prefix: string): string {
  return realpathSync(mkdtempSync(join(tmpdir(), prefix)));
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const handle = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms);
    promise.then(
      (value) => {
        clearTimeout(handle);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(handle);
        reject(error);
      },
    );
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------- stock buildbot-worker over msgpack

export async function startStockTarget(options: TargetOptions): Promise<Target> {
  const root = realTempDir('ampstate-bb-stock-');
  const basedir = join(root, 'worker');
  const masterDir = join(root, 'master');
  mkdirSync(masterDir);
  const newListener = (port = 0) =>
    new MsgpackListener({
      endpoint: `tcp:${port}`,
      registrations: { [options.name]: { password: PASSWORD, builders: BUILDERS } },
      workerSettings: QUICK_OUTPUT(MSGPACK_WORKER_SETTINGS),
      logger: quietLogger,
      ...KEEPALIVE,
      ...options.msgpack,
    });
  let listener = newListener();
  const { port } = await listener.start();
  const worker = StockWorker.create({ basedir, port, name: options.name, password: PASSWORD });
  const first = nextAttached(listener, options.name);
  worker.start();
  let connection: Connection = await withTimeout(first, 30_000, () => `stock worker did not attach\n${worker.tail()}`);
  const extraWorkers: StockWorker[] = [];

  const target: Target = {
    kind: 'stock',
    protocol: 'msgpack',
    basedir,
    builderDir: join(basedir, BUILDDIR),
    workdir: join(basedir, BUILDDIR, 'build'),
    masterDir,
    get connection() {
      return connection;
    },
    expectReattach(timeoutMs = 30_000) {
      const next = nextAttached(listener, options.name);
      return withTimeout(next, timeoutMs, () => `stock worker did not attach again\n${worker.tail()}`).then((attached) => (connection = attached));
    },
    async restartMaster(downMs) {
      await listener.stop();
      await sleep(downMs);
      listener = newListener(port);
      await listener.start();
      return target.expectReattach();
    },
    async workerEnded() {
      await withTimeout(worker.exited, 15_000, () => `stock worker did not exit\n${worker.tail()}`);
    },
    async tryWrongPassword(watchMs) {
      const other = StockWorker.create({ basedir: join(root, 'intruder'), port, name: options.name, password: 'wrong password' });
      extraWorkers.push(other);
      const refusals = firstValueFrom(
        listener.refusals$.pipe(
          filter((refusal) => refusal.workerName === options.name),
          takeUntil(timer(watchMs)),
          take(2),
          toArray(),
        ),
      );
      let attached = false;
      const watch = listener.workers$.subscribe((event) => (attached ||= event.type === 'attached'));
      other.start();
      const seen = await refusals;
      watch.unsubscribe();
      await other.stop();
      return { refusals: seen.length, details: seen.map((refusal) => refusal.reason), attached };
    },
    diagnostics: () => worker.tail(60),
    workerLog: () => worker.log(),
    async teardown() {
      for (const other of extraWorkers) await other.stop();
      await worker.stop();
      await listener.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return target;
}

// ---------------------------------------------------------------- ampstate worker over AMP

export async function startAmpstateTarget(options: TargetOptions): Promise<Target> {
  const root = realTempDir('ampstate-bb-amp-');
  const basedir = join(root, 'worker');
  const masterDir = join(root, 'master');
  mkdirSync(basedir);
  mkdirSync(masterDir);
  const newListener = (port = 0) =>
    new Listener({
      endpoint: `tcp:${port}:interface=127.0.0.1`,
      registrations: { [options.name]: { password: PASSWORD, builders: BUILDERS } },
      workerSettings: QUICK_OUTPUT(DEFAULT_WORKER_SETTINGS),
      logger: quietLogger,
      ...KEEPALIVE,
    });
  let listener = newListener();
  const address = (await listener.start()) as AddressInfo;
  const port = address.port;
  // As `ampstate worker` (and `buildbot-worker create-worker`) does: info/admin and info/host.
  await ensureInfoFiles(basedir, { admin: 'ampstate tests <tests@localhost>', host: 'loopback test worker' });
  const session = new WorkerSession({
    master: `tcp:127.0.0.1:${port}`,
    name: options.name,
    password: PASSWORD,
    basedir,
    logger: quietLogger,
    environ: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8' },
  });
  const first = attachedEvent(listener, options.name);
  session.start();
  let connection: Connection = await withTimeout(first, 30_000, () => `ampstate worker did not attach (state ${session.state})`);
  const extraSessions: WorkerSession[] = [];

  const target: Target = {
    kind: 'ampstate',
    protocol: 'amp',
    basedir,
    builderDir: join(basedir, BUILDDIR),
    workdir: join(basedir, BUILDDIR, 'build'),
    masterDir,
    get connection() {
      return connection;
    },
    expectReattach(timeoutMs = 30_000) {
      const next = attachedEvent(listener, options.name);
      return withTimeout(next, timeoutMs, () => `ampstate worker did not attach again (state ${session.state})`).then(
        (attached) => (connection = attached),
      );
    },
    async restartMaster(downMs) {
      await listener.stop();
      await sleep(downMs);
      listener = newListener(port);
      await listener.start();
      return target.expectReattach();
    },
    async workerEnded() {
      await withTimeout(session.stopped, 15_000, () => `ampstate worker did not stop (state ${session.state})`);
    },
    async tryWrongPassword(watchMs) {
      const intruder = new WorkerSession({
        master: `tcp:127.0.0.1:${port}`,
        name: options.name,
        password: 'wrong password',
        basedir: join(root, 'intruder'),
        logger: quietLogger,
      });
      extraSessions.push(intruder);
      const refusals = firstValueFrom(
        intruder.notices$.pipe(
          filter((notice) => notice.type === 'loginRefused'),
          takeUntil(timer(watchMs)),
          take(2),
          toArray(),
        ),
      );
      let attached = false;
      const watch = intruder.notices$.subscribe((notice) => (attached ||= notice.type === 'attached'));
      intruder.start();
      const seen = await refusals;
      watch.unsubscribe();
      await intruder.stop();
      return {
        refusals: seen.length,
        details: seen.map((notice) => (notice.type === 'loginRefused' ? notice.message : notice.type)),
        attached,
      };
    },
    diagnostics: () => `ampstate worker session state: ${session.state}`,
    workerLog: () => '',
    async teardown() {
      for (const other of extraSessions) await other.stop();
      await session.stop();
      await listener.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return target;
}

export function startTarget(kind: TargetKind, options: TargetOptions): Promise<Target> {
  return kind === 'stock' ? startStockTarget(options) : startAmpstateTarget(options);
}
