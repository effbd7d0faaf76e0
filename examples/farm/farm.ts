/**
 * The demo farm: a master and two ampstate workers on loopback run a small build job each: mkdir,
 * a shell build with streamed output, an artifact file and a directory uploaded, a file
 * downloaded, and a long command interrupted. Live progress, then a summary.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import type { Inspector } from 'ampstate';
import { randomBytes } from 'node:crypto';
import { AmpListener, ListenerFarm, RemoteCommand, createAdminServer, downloadFile, uploadDirectory, uploadFile, type MasterConnection } from 'ampstate/master';
import { pino } from 'pino';
import { dashboard } from '../../actors/master/dashboard/register-dashboard.js';
import { WorkerSession } from 'ampstate/worker';

const WORKERS = ['worker-1', 'worker-2'];
const BUILDER = 'build';
const cli = fileURLToPath(new URL('../../../bin/ampstate.js', import.meta.url));
const colors = ['\x1b[36m', '\x1b[35m'];
const reset = '\x1b[0m';
const tty = process.stdout.isTTY;

function say(worker: string, text: string): void {
  const index = WORKERS.indexOf(worker);
  const tag = tty ? `${colors[index] ?? ''}[${worker}]${reset}` : `[${worker}]`;
  for (const line of text.replace(/\n$/, '').split('\n')) process.stdout.write(`${tag} ${line}\n`);
}

interface StepOutcome {
  readonly worker: string;
  readonly step: string;
  readonly ok: boolean;
  readonly detail: string;
}

const BUILD_SCRIPT = [
  'echo "compiling $(hostname) in $PWD"',
  'for part in parser codec machines actors; do echo "  [cc] $part"; sleep 0.2; done',
  'mkdir -p out/docs',
  'echo "app built by $WORKERNAME" > out/app.txt',
  'for page in index api machines; do echo "# $page" > out/docs/$page.md; done',
  'echo "link: out/app.txt ($(wc -c < out/app.txt) bytes)"',
].join('\n');

async function runJob(connection: MasterConnection, worker: string, masterDir: string, inspect: Inspector | undefined): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = [];
  const record = (step: string, ok: boolean, detail: string) => {
    outcomes.push({ worker, step, ok, detail });
    say(worker, `${ok ? '✔' : '✘'} ${step}: ${detail}`);
  };
  const shell = async (step: string, command: string, env: Record<string, string> = {}) => {
    const remote = new RemoteCommand('shell', { command, workdir: 'build', env, logEnviron: false, timeout: 60 }, { inspect });
    remote.updates$.subscribe(({ key, value }) => {
      if (key === 'stdout' || key === 'stderr') say(worker, String(value));
    });
    const result = await remote.run(connection, BUILDER);
    record(step, result.rc === 0 && result.failure === undefined, `rc=${result.rc}`);
    return result;
  };

  const mkdir = await new RemoteCommand('mkdir', { dir: 'build/out' }, { inspect }).run(connection, BUILDER);
  record('mkdir', mkdir.rc === 0, `rc=${mkdir.rc}`);

  await shell('build', BUILD_SCRIPT, { WORKERNAME: worker });

  const artifact = uploadFile(connection, {
    builderName: BUILDER,
    workersrc: 'out/app.txt',
    masterdest: join(masterDir, 'artifacts', worker, 'app.txt'),
    masterBasedir: masterDir,
    inspect,
  });
  const uploaded = await artifact.result;
  record('upload artifact', uploaded.rc === 0, `${uploaded.bytes} bytes → ${uploaded.path}`);

  const docs = uploadDirectory(connection, {
    builderName: BUILDER,
    workersrc: 'out/docs',
    masterdest: join(masterDir, 'artifacts', worker, 'docs'),
    masterBasedir: masterDir,
    compress: 'gz',
    inspect,
  });
  const unpacked = await docs.result;
  const pages = existsSync(unpacked.path) ? readdirSync(unpacked.path).sort().join(', ') : 'nothing';
  record('upload docs', unpacked.rc === 0, `${unpacked.bytes} bytes of tar.gz, unpacked: ${pages}`);

  const config = downloadFile(connection, {
    builderName: BUILDER,
    mastersrc: join(masterDir, 'farm.cfg'),
    workerdest: 'farm.cfg',
    masterBasedir: masterDir,
    mode: 0o640,
    inspect,
  });
  const downloaded = await config.result;
  record('download config', downloaded.rc === 0, `${downloaded.bytes} bytes`);
  await shell('use config', 'cat farm.cfg');

  const long = new RemoteCommand('shell', { command: 'echo "waiting for a very slow test..."; sleep 30', workdir: 'build', logEnviron: false }, { inspect });
  long.updates$.subscribe(({ key, value }) => {
    if (key === 'stdout') say(worker, String(value));
  });
  const running = long.run(connection, BUILDER);
  setTimeout(() => void long.interrupt('the demo does not wait 30 seconds'), 800);
  const interrupted = await running;
  record('interrupt long command', interrupted.interrupted, `interrupted=${interrupted.interrupted} rc=${interrupted.rc}`);
  return outcomes;
}

export interface FarmOptions {
  /** An xstate inspector that sees every machine of the master (and of in-process workers). */
  readonly inspect?: Inspector;
  /** Run the workers as WorkerSession actors in this process instead of `ampstate worker` children. */
  readonly inProcessWorkers?: boolean;
  /** After the steps, keep the farm and its dashboard running until SIGINT or SIGTERM. */
  readonly keep?: boolean;
}

/** Resolves on the first Ctrl-C (or SIGTERM). */
function interrupted(): Promise<void> {
  return new Promise((settle) => {
    const done = () => {
      process.off('SIGINT', done).off('SIGTERM', done);
      settle();
    };
    process.on('SIGINT', done).on('SIGTERM', done);
  });
}

/** Runs the demo; resolves with the exit code (0 when every step worked). */
export async function runFarm({ inspect, inProcessWorkers = false, keep = false }: FarmOptions = {}): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'ampstate-farm-'));
  const masterDir = join(root, 'master');
  const children: ChildProcess[] = [];
  const sessions: WorkerSession[] = [];
  const logger = pino({ level: process.env.AMPSTATE_LOG_LEVEL ?? 'warn' });
  const farm = new ListenerFarm(join(root, 'staging'), logger);
  const farmInspector = farm.events.inspector();
  const listener = new AmpListener({
    endpoint: 'tcp:0',
    // The dashboard sees every machine; a caller's inspector still sees them too.
    inspect: (event) => {
      farmInspector(event);
      if (typeof inspect === 'function') inspect(event);
      else inspect?.next?.(event);
    },
    registrations: Object.fromEntries(WORKERS.map((name) => [name, { password: `secret-${name}`, builders: [[BUILDER, BUILDER]] as const }])),
  });
  farm.watch('amp', listener);
  const admin = await createAdminServer({ farm, token: randomBytes(32).toString('base64url'), endpoint: 'tcp:0', logger, registerDashboard: dashboard() });
  try {
    const address = await listener.start();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    process.stdout.write(`master listening on tcp:127.0.0.1:${port}\n`);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(masterDir, { recursive: true });
    writeFileSync(join(masterDir, 'farm.cfg'), 'optimise = true\nretries = 2\n');

    const attached = firstValueFrom(
      listener.workers$.pipe(
        filter((event) => event.type === 'attached'),
        take(WORKERS.length),
        toArray(),
      ),
    );
    for (const name of WORKERS) {
      const basedir = join(root, name);
      mkdirSync(basedir, { recursive: true });
      if (inProcessWorkers) {
        const session = new WorkerSession({ master: `tcp:127.0.0.1:${port}`, name, password: `secret-${name}`, basedir, inspect });
        session.start();
        sessions.push(session);
        process.stdout.write(`started ${name} in this process\n`);
        continue;
      }
      const passwordFile = join(root, `${name}.password`);
      writeFileSync(passwordFile, `secret-${name}\n`);
      const child = spawn(
        process.execPath,
        [cli, 'worker', '--master', `tcp:127.0.0.1:${port}`, '--name', name, '--password-file', passwordFile, '--basedir', basedir],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child.stderr?.on('data', () => {});
      children.push(child);
      process.stdout.write(`started ${name} (pid ${child.pid})\n`);
    }
    const timeout = setTimeout(() => {
      process.stderr.write('workers did not attach within 20 s\n');
      process.exit(1);
    }, 20_000);
    await attached;
    clearTimeout(timeout);
    const connections = WORKERS.map((name) => listener.current.get(name)!);
    for (const connection of connections) {
      const info = await connection.remoteGetWorkerInfo();
      say(connection.name, `attached: ${String(info.system)} worker ${String(info.version)} with ${String(info.numcpus)} cpus`);
    }

    const results = (await Promise.all(connections.map((connection) => runJob(connection, connection.name, masterDir, inspect)))).flat();

    process.stdout.write('\nsummary\n');
    for (const outcome of results) {
      process.stdout.write(`  ${outcome.ok ? 'ok  ' : 'FAIL'}  ${outcome.worker.padEnd(9)} ${outcome.step.padEnd(22)} ${outcome.detail}\n`);
    }
    const artifactText = WORKERS.map((name) => readFileSync(join(masterDir, 'artifacts', name, 'app.txt'), 'utf8').trim());
    process.stdout.write(`  artifacts: ${artifactText.join(' | ')}\n`);
    const failed = results.filter((outcome) => !outcome.ok).length;
    process.stdout.write(failed === 0 ? `\nall ${results.length} steps succeeded\n` : `\n${failed} of ${results.length} steps failed\n`);

    if (keep) {
      const url = await admin.listen();
      process.stdout.write(`\ndashboard: ${url}/dashboard/  metrics: ${url}/metrics\nthe farm keeps running; Ctrl-C stops it\n`);
      await interrupted();
    }
    await Promise.all(connections.map((connection) => connection.remoteShutdown().catch(() => undefined)));
    return failed === 0 ? 0 : 1;
  } finally {
    await admin.close();
    farm.close();
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(sessions.map((session) => session.stop()));
    await listener.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
