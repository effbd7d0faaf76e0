/**
 * The verbs `ampstate worker` and `ampstate master` share for their daemon: `stop`, `restart` and
 * `status`, with the same options, wording and exit codes (status: 0 running, 1 stopped, like
 * `systemctl is-active`, a stale pidfile included).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { StopOutcome } from '../../actors/service/daemon-control.js';
import type { PidfileState } from '../../actors/service/pidfile.js';

export interface DaemonVerbs {
  /** The service, as messages name it: `worker`, `master`. */
  readonly role: string;
  /** The directory argument as help shows it: `basedir`, `dir`. */
  readonly dirArgument: string;
  readonly stopDescription: string;
  readonly stop: (dir: string, options: { timeoutMs: number }) => Promise<StopOutcome>;
  readonly start: (dir: string, options: { timeout: number }) => Promise<void>;
  readonly status: (dir: string) => PidfileState;
}

export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function seconds(text: string): number {
  const value = Number(text);
  if (!(value > 0)) throw new InvalidArgumentError(`expected a positive number of seconds, got ${JSON.stringify(text)}`);
  return value;
}

async function stop(verbs: DaemonVerbs, dir: string, options: { timeout: number }): Promise<void> {
  const { role } = verbs;
  const outcome = await verbs.stop(dir, { timeoutMs: options.timeout * 1000 });
  if (outcome.result === 'not-running') say(`${role} not running in ${dir}`);
  else if (outcome.result === 'stale') say(`${role} not running: removed a stale pidfile (pid ${outcome.pid} is gone)`);
  else if (outcome.killed) say(`${role} (pid ${outcome.pid}) did not stop within ${options.timeout} s: killed`);
  else say(`${role} stopped (pid ${outcome.pid})`);
}

function status(verbs: DaemonVerbs, dir: string): void {
  const state = verbs.status(dir);
  if (state.state === 'running') say(`running (pid ${state.pid})`);
  else if (state.state === 'stale') say(`stopped (stale pidfile: pid ${state.pid} is gone)`);
  else say('stopped');
  process.exitCode = state.state === 'running' ? 0 : 1;
}

/** Adds `stop`, `restart` and `status` to `parent` (after its `start`, for the help's order). */
export function registerDaemonVerbs(parent: Command, verbs: DaemonVerbs): void {
  const { role } = verbs;
  const dirName = verbs.dirArgument.toUpperCase();
  parent
    .command('stop')
    .description(verbs.stopDescription)
    .argument(`<${verbs.dirArgument}>`)
    .option('--timeout <seconds>', 'how long to wait before SIGKILL', seconds, 10)
    .action((dir: string, options: { timeout: number }) => stop(verbs, dir, options));

  parent
    .command('restart')
    .description(`stop, then start the ${role} of ${dirName}`)
    .argument(`<${verbs.dirArgument}>`)
    .option('--timeout <seconds>', 'how long to wait for the stop, then for the start', seconds, 10)
    .action(async (dir: string, options: { timeout: number }) => {
      await stop(verbs, dir, options);
      await verbs.start(dir, { timeout: Math.max(options.timeout, 30) });
    });

  parent
    .command('status')
    .description(`print whether the ${role} of ${dirName} is running; exit 0 running, 1 stopped`)
    .argument(`<${verbs.dirArgument}>`)
    .action((dir: string) => status(verbs, dir));
}
