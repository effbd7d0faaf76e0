/**
 * The life cycle every worker command shares (Buildbot's `Command.doStart` / `doInterrupt` plus
 * the protocol command's buffer): output batching, `elapsed` at the end, the interrupt flush, and
 * the two kinds of updates.
 *
 * Buildbot commands report in two ways, and an interrupt treats them differently (docs/master-worker-protocol.md §4): a
 * command's own status (`sendStatus`: fs rc, `elapsed`, the transfer `sending` header) is dropped
 * once interrupted, while process output and transfer results go on until completion.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { CommandChannel, CommandEnvironment, RunningCommand, UpdateEntry } from './command.js';
import { OutputBuffer } from './output-buffer.js';

export interface CommandContext {
  readonly channel: CommandChannel;
  readonly env: CommandEnvironment;
  readonly logger: Logger | undefined;
  /** The command's own status; dropped after an interrupt. */
  sendStatus(entries: readonly UpdateEntry[]): void;
  /** Process output and transfer results; delivered until the command completes. */
  sendUpdate(entries: readonly UpdateEntry[]): void;
}

export interface CommandImplementation {
  /** Does the work; resolves when done, rejects with the failure to report in `complete`. */
  run(): Promise<void>;
  /** Stop early; `run` still settles. Called at most once per interrupt request. */
  interrupt(why: string): void;
  /** Connection lost: stop now; nothing sent will arrive. */
  kill(): void;
  /** Bytes from the master for the command's input (see RunningCommand.input). */
  input?(data: Buffer): Promise<void>;
}

/**
 * Starts `create`'s command at once. `create` runs synchronously, so argument validation errors
 * throw to the caller of the factory rather than failing the command.
 */
export function runCommand(
  create: (context: CommandContext) => CommandImplementation,
  channel: CommandChannel,
  env: CommandEnvironment,
): RunningCommand {
  const buffer = new OutputBuffer((entries) => channel.sendUpdate(entries), env.output);
  let interrupted = false;
  let killed = false;
  let completed = false;

  const context: CommandContext = {
    channel,
    env,
    logger: env.logger,
    sendStatus(entries) {
      if (!interrupted && !killed && !completed) buffer.append(entries);
    },
    sendUpdate(entries) {
      if (!killed && !completed) buffer.append(entries);
    },
  };

  const implementation = create(context);
  const startTime = performance.now();

  const done = (async () => {
    let failure: { error: unknown } | undefined;
    try {
      await implementation.run();
    } catch (error) {
      failure = { error };
    }
    context.sendStatus([['elapsed', (performance.now() - startTime) / 1000]]);
    completed = true;
    if (!killed) buffer.flush();
    buffer.discard();
    if (failure) throw failure.error;
  })();
  // The caller may attach its handler late; an early rejection must not count as unhandled.
  done.catch(() => undefined);

  const input = implementation.input?.bind(implementation);
  return {
    done,
    ...(input !== undefined ? { input } : {}),
    interrupt(why) {
      if (completed || killed) return;
      buffer.flush();
      interrupted = true;
      implementation.interrupt(why);
    },
    kill() {
      if (killed) return;
      killed = true;
      buffer.discard();
      implementation.kill();
    },
  };
}
