/**
 * `ampstate exec --master DIR (--workers w1,w2 | --all) -- CMD ARGS…`: runs a command on workers
 * through the master's admin API (never as a worker). Each output line is prefixed `NAME | `
 * (stdout to stdout, stderr to stderr), then one summary line per worker; the exit status is 1
 * when any worker's command did not succeed.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { addMasterOptions, adminClient, type MasterTarget } from './admin-options.js';

interface ExecOptions extends MasterTarget {
  workers?: string[];
  all?: boolean;
  timeout?: number;
}

function workerList(text: string): string[] {
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) throw new InvalidArgumentError('name at least one worker');
  return names;
}

function seconds(text: string): number {
  const value = Number(text);
  if (!(value > 0)) throw new InvalidArgumentError(`expected a positive number of seconds, got ${JSON.stringify(text)}`);
  return value;
}

/** Whole lines only, per worker and stream: a chunk may end mid-line. */
class PrefixedLines {
  private readonly pending = new Map<string, string>();

  constructor(private readonly width: number) {}

  write(worker: string, stream: 'stdout' | 'stderr', text: string): void {
    const key = `${stream}\0${worker}`;
    const lines = ((this.pending.get(key) ?? '') + text).split('\n');
    this.pending.set(key, lines.pop() ?? '');
    for (const line of lines) this.out(worker, stream, line);
  }

  flush(worker: string): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.pending.get(`${stream}\0${worker}`);
      if (rest) this.out(worker, stream, rest);
      this.pending.delete(`${stream}\0${worker}`);
    }
  }

  private out(worker: string, stream: 'stdout' | 'stderr', line: string): void {
    (stream === 'stdout' ? process.stdout : process.stderr).write(`${worker.padEnd(this.width)} | ${line}\n`);
  }
}

async function exec(command: readonly string[], options: ExecOptions): Promise<void> {
  if ((options.workers === undefined) === (options.all !== true)) {
    process.stderr.write('ampstate exec: give either --workers w1,w2 or --all\n');
    process.exitCode = 2;
    return;
  }
  const client = await adminClient(options);
  const names = options.all ? (await client.workers()).map((worker) => worker.name) : options.workers!;
  const output = new PrefixedLines(Math.max(0, ...names.map((name) => name.length)));
  const finished: { worker: string; rc: number | null; result: string; failure?: string }[] = [];
  for await (const event of client.exec({ command, ...(options.all ? { all: true } : { workers: options.workers }), ...(options.timeout !== undefined ? { timeout: options.timeout } : {}) })) {
    if (event.type === 'output') {
      if (event.stream !== 'header') output.write(event.worker, event.stream, event.text);
    } else {
      output.flush(event.worker);
      finished.push(event);
    }
  }
  const failed = finished.filter((outcome) => outcome.result !== 'success');
  process.stdout.write(`\n${finished.length} worker(s): ${finished.length - failed.length} succeeded, ${failed.length} failed\n`);
  for (const outcome of finished.sort((left, right) => left.worker.localeCompare(right.worker))) {
    process.stdout.write(`  ${outcome.worker}: ${outcome.result} (rc ${outcome.rc ?? 'none'})${outcome.failure !== undefined ? `: ${outcome.failure}` : ''}\n`);
  }
  process.exitCode = failed.length === 0 && finished.length > 0 ? 0 : 1;
}

export function registerExecCommand(program: Command): void {
  addMasterOptions(
    program
      .command('exec')
      .description("run a command on workers through a master's admin API; output prefixed with each worker's name")
      .argument('<command...>', 'the command and its arguments (put them after --)')
      .option('--workers <names>', 'comma-separated worker names', workerList)
      .option('--all', 'every attached worker')
      .option('--timeout <seconds>', 'kill the command after this long without output', seconds),
  ).action((command: string[], options: ExecOptions) => exec(command, options));
}
