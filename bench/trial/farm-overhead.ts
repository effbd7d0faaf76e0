/**
 * "Farm overhead per test" of bench/trial.ts: the same fast tests with -j 2 local trial workers and
 * with 2 trial workers on one farm worker on loopback (master side and farm worker in this process,
 * loopback-farm.ts), `(farm − local) / tests` from the medians. Both runs are in-process
 * `runTrial` calls in trial's order (no duration cache), timed from call to return; what differs is
 * only where the workers run: the farm path adds the admin API's WebSocket per worker, the master's
 * relay to the farm worker and the worker's own process handling.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { runTrial, type TrialManagerOptions } from '../../actors/trial/manager.js';
import { LoopbackFarm } from './loopback-farm.js';
import { median, round } from './timing.js';

export interface FarmOverhead {
  readonly names: readonly string[];
  readonly tests: number;
  readonly local_seconds: number[];
  readonly farm_seconds: number[];
  readonly local_median: number;
  readonly farm_median: number;
  /** (farm − local) / tests, milliseconds, from the medians. */
  readonly overhead_ms_per_test: number;
}

export async function measureFarmOverhead(options: {
  readonly names: readonly string[];
  readonly pythonPath: string;
  readonly python: string;
  readonly scratch: string;
  readonly repeats: number;
}): Promise<FarmOverhead> {
  const farm = await LoopbackFarm.start('w1', options.scratch);
  const base: TrialManagerOptions = {
    names: options.names,
    jobs: 2,
    python: options.python,
    output: null,
    durations: false,
    logger: pino({ level: 'silent' }),
    env: { ...process.env, PYTHONPATH: options.pythonPath },
  };
  const timed = async (where: 'local' | 'farm') => {
    const cwd = mkdtempSync(join(options.scratch, `farm-overhead-${where}-`));
    const run = where === 'local' ? { ...base, cwd } : { ...base, cwd, jobs: 0, farm: { client: farm.client, workers: ['w1'], jobs: 2, env: { PYTHONPATH: options.pythonPath } } };
    const started = performance.now();
    const summary = await runTrial(run);
    const seconds = (performance.now() - started) / 1000;
    if (!summary.passed || summary.synthesized > 0) throw new Error(`trial bench (farm overhead, ${where}): ${summary.line}`);
    return { seconds, summary };
  };
  try {
    const tests = (await timed('local')).summary.testsRun;
    await timed('farm');
    const local: number[] = [];
    const remote: number[] = [];
    for (let i = 0; i < options.repeats; i++) {
      local.push((await timed('local')).seconds);
      const run = await timed('farm');
      if (run.summary.testsRun !== tests) throw new Error(`trial bench (farm overhead): ${run.summary.testsRun} tests on the farm, ${tests} locally`);
      remote.push(run.seconds);
    }
    const localMedian = median(local);
    const farmMedian = median(remote);
    return {
      names: options.names,
      tests,
      local_seconds: local.map(round),
      farm_seconds: remote.map(round),
      local_median: round(localMedian),
      farm_median: round(farmMedian),
      overhead_ms_per_test: round(((farmMedian - localMedian) * 1000) / tests),
    };
  } finally {
    await farm.stop();
  }
}
