/**
 * AMPSTATE_BENCH_TRANSFER_PROFILE=DIR: CPU profiles for finding where a transfer's time goes. The
 * master (this process) is profiled only while each ampstate transfer runs, one file per transfer
 * (`master-upload-1.cpuprofile`, …); the worker child runs under `--cpu-prof` for its whole life
 * (`worker.cpuprofile`). Open them in Chrome DevTools or speedscope. Profiling costs CPU: the
 * throughput figures of a profiled run are not comparable with others.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join, resolve } from 'node:path';

export function profileDirectory(): string | undefined {
  const directory = process.env.AMPSTATE_BENCH_TRANSFER_PROFILE;
  return directory === undefined || directory === '' ? undefined : resolve(directory);
}

function post(session: Session, method: string, params: object = {}): Promise<unknown> {
  return new Promise((done, fail) => session.post(method, params, (error, result) => (error === null ? done(result) : fail(error))));
}

/** Runs `work` under the profiler when profiling was asked for, writing `<name>.cpuprofile`. */
export async function profiled<T>(name: string, work: () => Promise<T>): Promise<T> {
  const directory = profileDirectory();
  if (directory === undefined) return work();
  mkdirSync(directory, { recursive: true });
  const session = new Session();
  session.connect();
  try {
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.start');
    try {
      return await work();
    } finally {
      const { profile } = (await post(session, 'Profiler.stop')) as { profile: unknown };
      writeFileSync(join(directory, `${name}.cpuprofile`), JSON.stringify(profile));
    }
  } finally {
    session.disconnect();
  }
}
