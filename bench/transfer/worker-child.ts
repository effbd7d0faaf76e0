/** The `ampstate worker` child process bench/transfer measures against the master in its own process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { filter, firstValueFrom, map } from 'rxjs';
import type { Listener } from '../../actors/master/listener.js';
import type { MasterConnection } from '../../actors/master/master-connection.js';
import { CLI, ROOT } from './environment.js';
import { profileDirectory } from './profile.js';

export interface WorkerChild {
  readonly child: ChildProcess;
  readonly pid: number;
  stop(): Promise<void>;
}

export function spawnWorker(options: { endpoint: string; name: string; basedir: string; passwordFile: string }): WorkerChild {
  if (!existsSync(join(ROOT, 'dist', 'bin', 'cli.js'))) throw new Error('dist/bin/cli.js is missing: run "npm run build" first');
  const window = process.env.AMPSTATE_BENCH_TRANSFER_WINDOW;
  const profiles = profileDirectory();
  const child = spawn(
    process.execPath,
    [
      // The worker's whole life, written when it exits (it does on SIGTERM).
      ...(profiles === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profiles, '--cpu-prof-name', 'worker.cpuprofile']),
      CLI,
      'worker',
      '--master',
      options.endpoint,
      '--name',
      options.name,
      '--password-file',
      options.passwordFile,
      '--basedir',
      options.basedir,
      '--log-level',
      'warn',
      ...(window === undefined ? [] : ['--transfer-window', window]),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.setEncoding('utf8').on('data', (text: string) => process.stderr.write(`[bench/transfer worker] ${text}`));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return {
    child,
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(kill);
    },
  };
}

/** Resolves with the worker's connection once it has logged in. */
export function attached(listener: Listener, name: string, timeoutMs: number): Promise<MasterConnection> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the worker did not attach within ${timeoutMs} ms`)), timeoutMs);
  });
  const connection = firstValueFrom(
    listener.workers$.pipe(
      map((event) => (event.type === 'snapshot' ? event.current.get(name) : event.type === 'attached' && event.name === name ? event.connection : undefined)),
      filter((found): found is MasterConnection => found !== undefined),
    ),
  );
  return Promise.race([connection, timeout]).finally(() => clearTimeout(timer));
}
