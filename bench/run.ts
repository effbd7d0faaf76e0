/**
 * `npm run bench -- [name…] [--json] [--workers N]`: runs the named benchmarks (codec, amp,
 * transfer, trial, buildbot, scale), or every one that exists, one after another so they do not
 * compete for the CPU. Each module prints its own table; with --json the last line printed is one
 * JSON object `{ name: result, … }` for scripts to read. `--workers N` gives scale one size
 * instead of both.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const KNOWN = ['codec', 'amp', 'transfer', 'trial', 'buildbot', 'scale'] as const;
type BenchName = (typeof KNOWN)[number];

interface BenchModule {
  run(options: { json: boolean; workers?: number }): Promise<Record<string, unknown>>;
}

const HERE = dirname(fileURLToPath(import.meta.url));

function moduleFile(name: BenchName): string {
  return join(HERE, `${name}.js`);
}

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: node dist/bench/run.js [${KNOWN.join('|')} …] [--json] [--workers N]\n`);
  process.exit(2);
}

async function main(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json');
  const workersAt = argv.indexOf('--workers');
  const workers = workersAt < 0 ? undefined : Number(argv[workersAt + 1]);
  if (workers !== undefined && !(Number.isInteger(workers) && workers > 0)) usage('--workers needs a positive whole number');
  const requested = argv.filter((arg, i) => arg !== '--json' && (workersAt < 0 || (i !== workersAt && i !== workersAt + 1)));
  for (const arg of requested) {
    if (arg.startsWith('-')) usage(`unknown option ${arg}`);
    if (!(KNOWN as readonly string[]).includes(arg)) usage(`unknown benchmark ${arg}`);
  }
  const names = requested.length > 0 ? (requested as BenchName[]) : KNOWN.filter((name) => existsSync(moduleFile(name)));
  if (names.length === 0) usage(`no benchmark modules found next to ${HERE} (run "npx tsc -p ." first)`);

  const results: Record<string, unknown> = {};
  let failures = 0;
  for (const name of names) {
    const file = moduleFile(name);
    if (!existsSync(file)) {
      process.stderr.write(`[bench] ${name}: ${file} does not exist (not written yet, or not built)\n`);
      results[name] = { error: 'not available' };
      failures++;
      continue;
    }
    try {
      const bench = (await import(pathToFileURL(file).href)) as BenchModule;
      results[name] = await bench.run({ json, workers });
    } catch (error) {
      // One broken benchmark should not hide the others' numbers.
      process.stderr.write(`[bench] ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      results[name] = { error: error instanceof Error ? error.message : String(error) };
      failures++;
    }
  }
  // One benchmark: its own object is the last line (e.g. `npm run bench -- amp --json`); several: keyed by name.
  const ran = Object.keys(results);
  if (json) process.stdout.write(JSON.stringify(ran.length === 1 ? results[ran[0]!] : results) + '\n');
  return failures > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
