/**
 * A quick A/B probe for the hot path, lighter than the full `bench amp`: ampstate ↔ ampstate
 * pipelined Hello calls only, with the CPU of each end reported separately.
 *
 *   node dist/bench/amp/pipelined-cpu.js [runs=3] [calls=200000] [--prof DIR]
 *
 * `--prof DIR` starts the server child with `--cpu-prof` writing into DIR (and profiles this
 * process too when run under `node --cpu-prof`). Prints one JSON line per run, then the medians.
 */
import { median } from '../support/measure.js';
import { processCpuSeconds } from '../support/process-cpu.js';
import { childScript, spawnServer } from './children.js';
import { ampDriver } from './drivers.js';

const args = process.argv.slice(2);
const profAt = args.indexOf('--prof');
const profDir = profAt < 0 ? undefined : args[profAt + 1];
const positional = args.filter((_, i) => profAt < 0 || (i !== profAt && i !== profAt + 1));
const runs = Number(positional[0] ?? 3);
const calls = Number(positional[1] ?? 200_000);

const serverArgs = profDir === undefined ? [childScript('amp-server')] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`, childScript('amp-server')];
const server = await spawnServer(process.execPath, serverArgs);
const driver = await ampDriver(server.port, server.pid);
await driver.pipelined(Math.round(calls / 5));

const rows: { callsPerS: number; server: number; client: number; both: number }[] = [];
for (let i = 0; i < runs; i++) {
  const serverBefore = processCpuSeconds(server.pid);
  const clientBefore = processCpuSeconds('self');
  const callsPerS = await driver.pipelined(calls);
  const serverUs = ((processCpuSeconds(server.pid) - serverBefore) * 1e6) / calls;
  const clientUs = ((processCpuSeconds('self') - clientBefore) * 1e6) / calls;
  const row = { callsPerS: Math.round(callsPerS), server: +serverUs.toFixed(3), client: +clientUs.toFixed(3), both: +(serverUs + clientUs).toFixed(3) };
  rows.push(row);
  process.stdout.write(JSON.stringify(row) + '\n');
}
const errors = driver.errors;
await driver.close();
await server.stop();
const pick = (key: keyof (typeof rows)[number]) => median(rows.map((row) => row[key]));
process.stdout.write(
  JSON.stringify({ median: { callsPerS: pick('callsPerS'), server: pick('server'), client: pick('client'), both: pick('both') }, errors }) + '\n',
);
