/**
 * `trial_worker` (an ampstate extension, not Buildbot's; docs/master-worker-protocol.md §3.7): runs
 * one trial worker process (`python -m twisted.trial._dist.workertrial` or ampstate's TypeScript
 * worker) with AMP on its fds 3 and 4, as a local trial manager would, and carries those two pipes
 * over the farm connection: fd 4's bytes go to the master as `trial_amp` updates, and the master's
 * `CommandInput` calls are written to fd 3.
 *
 * Updates: `trial_started {pid, directory}` once the process runs; `trial_amp` (bytes, at most
 * 32 KiB each); `stdout`/`stderr` through the usual output buffering; `trial_exit {code, signal}`
 * and `rc` at the end (a signal makes rc −1, as for `shell`). A failed import check sends
 * `trial_import_failures [{name, reason}]` and fails the command.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { StringDecoder } from 'node:string_decoder';
import { compiledAsset } from '../../trial/assets.js';
import { computeChildEnvironment } from './child-environment.js';
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { InvalidArgumentError, TrialImportFailedError, TrialWorkerSpawnError, WorkerCommandError } from './errors.js';
import { checkImports, type ImportCheck } from './trial-import-check.js';

export const TRIAL_WORKER_COMMAND_CLASS = 'TrialWorkerCommand';
export const TRIAL_WORKER_REQUIRED_ARGS = ['kind', 'workdir', 'directory'] as const;
/** The largest `trial_amp` chunk: one msgpack value inside one AMP value (65535 bytes) with room to spare. */
export const TRIAL_AMP_CHUNK_BYTES = 32 * 1024;

/**
 * Bytes of fd 4 read but not yet acknowledged by the master (16 `trial_amp` updates) past which
 * fd 4 is no longer read: a worker that outruns a slow master then blocks on its pipe, as it would
 * under a local manager, instead of its output piling up in this process.
 */
export const TRIAL_AMP_UNACKNOWLEDGED_BYTES = 16 * TRIAL_AMP_CHUNK_BYTES;

/**
 * Makes the worker's start directory (`<temp>/<index>`) and says whether it made it (false when it
 * was there already). A temp directory made here gets trial's empty `_trial_marker`, as trial gives
 * its own: a later plain `trial` run in this workdir refuses to wipe a `_trial_temp` without one.
 * One that already existed is left as it is.
 */
export async function makeStartDirectory(directory: string): Promise<boolean> {
  const temp = dirname(directory);
  // mkdir answers with the first directory it made: the temp was made here if that is it or above it.
  const made = await mkdir(directory, { recursive: true });
  if (made === undefined) return false;
  if (!relative(made, temp).startsWith('..')) await writeFile(join(temp, '_trial_marker'), '');
  return true;
}

/**
 * For a worker that ended without ever being sent a byte on fd 3, so without Start (a surplus one
 * the manager stopped): removes the start directory this command made, if nothing is in it, so it
 * leaves no directory on its farm worker. One that holds anything is kept (rmdir, never a recursive
 * removal). Says whether it removed it.
 */
export async function removeUnusedStartDirectory(directory: string, logger?: Logger): Promise<boolean> {
  try {
    await rmdir(directory);
    return true;
  } catch (error) {
    logger?.debug({ err: error, directory }, 'the trial start directory is kept');
    return false;
  }
}

/**
 * The master did not accept a `trial_amp` update: its copy of the worker's protocol stream would
 * have a gap, so the worker process is stopped rather than let the manager read on past it.
 */
export class TrialAmpRefusedError extends WorkerCommandError {
  override readonly code = 'WORKER_COMMAND_TRIAL_AMP_REFUSED';
  constructor() {
    super("the master did not accept a 'trial_amp' update; the trial worker was stopped, as its protocol stream would have a gap");
  }
}

/** The worker process is gone (or never came): input for its fd 3 has nowhere to go. */
export class TrialWorkerNotRunningError extends WorkerCommandError {
  override readonly code = 'WORKER_COMMAND_TRIAL_NOT_RUNNING';
}

interface TrialWorkerSettings {
  readonly argv: readonly string[];
  readonly python: string;
  readonly workdir: string;
  readonly directory: string;
  readonly env: unknown;
  readonly importCheck: readonly string[];
}

function parseSettings(args: CommandArguments): TrialWorkerSettings {
  const kind = args.string('kind');
  if (kind !== 'python' && kind !== 'node') throw new InvalidArgumentError(TRIAL_WORKER_COMMAND_CLASS, 'kind', "'python' or 'node'");
  const python = args.optionalString('python') ?? 'python3';
  const workerArguments = args.raw('workerArguments') != null ? args.stringList('workerArguments') : [];
  const importCheck = args.raw('importCheck') != null ? args.stringList('importCheck') : [];
  const dialect = args.optionalString('dialect');
  const env = args.raw('env');
  if (env !== undefined && env !== null && (typeof env !== 'object' || Array.isArray(env))) throw new InvalidArgumentError(TRIAL_WORKER_COMMAND_CLASS, 'env', 'a dict');
  // A Python worker speaks its Twisted's dialect; ampstate's worker is told which one to speak.
  const nodeDialect = dialect !== null && !workerArguments.includes('--dialect') ? ['--dialect', dialect] : [];
  const argv =
    kind === 'python'
      ? [python, '-m', 'twisted.trial._dist.workertrial', ...workerArguments]
      : [process.execPath, compiledAsset('worker-main.js'), ...nodeDialect, ...workerArguments];
  return { argv, python, workdir: args.string('workdir'), directory: args.string('directory'), env, importCheck };
}

export function createTrialWorker(args: CommandArguments, context: CommandContext): CommandImplementation {
  const settings = parseSettings(args);
  let check: ImportCheck | undefined;
  let child: ChildProcess | undefined;
  /** Interrupted or killed: nothing more is started. */
  let stopping = false;
  /** The connection is gone: nothing more is sent. */
  let killed = false;
  /** fd 3 has been given bytes: the worker may have had Start. */
  let sentInput = false;
  /** A `trial_amp` update was refused: the command fails with this once the worker has stopped. */
  let streamBroken: TrialAmpRefusedError | undefined;
  let resolveFd3!: (pipe: Writable | undefined) => void;
  const fd3 = new Promise<Writable | undefined>((resolveIt) => (resolveFd3 = resolveIt));

  const sendNow = (entries: Parameters<CommandContext['sendUpdate']>[0]) => {
    // AMP bytes and the start must not wait for the output buffer's timer: the manager waits on them.
    if (!killed) context.channel.sendUpdate(entries);
  };
  const killGroup = () => {
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  };

  return {
    async run() {
      const workdir = resolve(context.env.basedir, settings.workdir);
      const directory = resolve(workdir, settings.directory);
      let madeStartDirectory = false;
      try {
        madeStartDirectory = await makeStartDirectory(directory);
        const environ = { ...computeChildEnvironment(settings.env, context.env.environ), PWD: workdir };
        if (settings.importCheck.length > 0 && !stopping) {
          check = checkImports(settings.python, settings.importCheck, workdir, environ);
          const failures = await check.result;
          if (failures.length > 0 && !stopping) {
            context.sendStatus([['trial_import_failures', failures]]);
            throw new TrialImportFailedError(failures);
          }
        }
        if (stopping) return;
        child = spawnWorker(settings.argv, workdir, environ);
        await running(child, directory);
        if (streamBroken !== undefined) throw streamBroken;
      } finally {
        resolveFd3(undefined);
        // Workers that got Start keep theirs, as trial keeps one per worker that ran.
        if (madeStartDirectory && !sentInput) await removeUnusedStartDirectory(directory, context.logger);
      }
    },
    interrupt() {
      stopping = true;
      check?.kill();
      killGroup();
    },
    kill() {
      killed = true;
      stopping = true;
      check?.kill();
      killGroup();
    },
    async input(data) {
      const pipe = await fd3;
      if (pipe === undefined || pipe.destroyed) throw new TrialWorkerNotRunningError('the trial worker process is not running');
      if (data.length === 0) {
        if (!pipe.writableEnded) pipe.end();
        return;
      }
      sentInput = true;
      await new Promise<void>((done, fail) => pipe.write(data, (error) => (error ? fail(error) : done())));
    },
  };

  function spawnWorker(argv: readonly string[], workdir: string, environ: Record<string, string>): ChildProcess {
    const [executable, ...rest] = argv as [string, ...string[]];
    // detached: the worker leads its own process group, so an interrupt reaches what it started.
    return spawn(executable, rest, { cwd: workdir, env: environ, detached: true, stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'] });
  }

  /** Forwards the process's pipes until it has ended; resolves then, rejects if it never started. */
  function running(worker: ChildProcess, directory: string): Promise<void> {
    const display = settings.argv.join(' ');
    const toWorker = worker.stdio[3] as Writable;
    const fromWorker = worker.stdio[4] as Readable;
    // A worker that died makes writes fail with EPIPE; its exit is what the master hears about.
    toWorker.on('error', (error) => context.logger?.debug({ err: error }, 'trial worker fd 3 write failed'));
    worker.stdin!.on('error', () => undefined);
    const window = readWindow(fromWorker, TRIAL_AMP_UNACKNOWLEDGED_BYTES);
    const forwardAmp = coalescedChunks((chunk) => {
      if (killed || streamBroken !== undefined) window.acknowledged(chunk.length);
      else
        void context.channel.sendUpdate([['trial_amp', chunk]]).then((accepted) => {
          window.acknowledged(chunk.length);
          if (accepted || killed || streamBroken !== undefined) return;
          streamBroken = new TrialAmpRefusedError();
          stopping = true;
          killGroup();
        });
    });
    fromWorker.on('data', (data: Buffer) => {
      window.read(data.length);
      forwardAmp.push(data);
    });
    forwardText(worker.stdout!, 'stdout');
    forwardText(worker.stderr!, 'stderr');

    return new Promise((resolveRun, rejectRun) => {
      worker.once('spawn', () => {
        context.env.processGroups?.record(worker.pid!, display);
        sendNow([['trial_started', { pid: worker.pid!, directory }]]);
        resolveFd3(toWorker);
      });
      worker.once('error', (error) => {
        if (worker.pid === undefined) rejectRun(new TrialWorkerSpawnError(`cannot start ${display}: ${error.message}`, { cause: error }));
        else context.logger?.warn({ err: error }, 'trial worker process error');
      });
      worker.once('close', (code, signal) => {
        if (worker.pid === undefined) return;
        context.env.processGroups?.release(worker.pid);
        forwardAmp.flush();
        const rc = signal !== null || code === null ? -1 : code;
        context.sendUpdate([
          ['trial_exit', { code, signal }],
          ['rc', rc],
        ]);
        resolveRun();
      });
    });
  }

  function forwardText(stream: Readable, key: 'stdout' | 'stderr'): void {
    const decoder = new StringDecoder('utf8');
    stream.on('data', (chunk: Buffer) => {
      const text = decoder.write(chunk);
      if (text !== '') context.sendUpdate([[key, text]]);
    });
    stream.once('end', () => {
      const text = decoder.end();
      if (text !== '') context.sendUpdate([[key, text]]);
    });
  }
}

/**
 * What arrives within one turn of the event loop goes out together, in chunks of at most
 * {@link TRIAL_AMP_CHUNK_BYTES}: a worker writing a result box in several pieces costs one update.
 */
function coalescedChunks(send: (chunk: Buffer) => void): { push: (data: Buffer) => void; flush: () => void } {
  let pending: Buffer[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const bytes = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
    pending = [];
    for (let offset = 0; offset < bytes.length; offset += TRIAL_AMP_CHUNK_BYTES) send(bytes.subarray(offset, offset + TRIAL_AMP_CHUNK_BYTES));
  };
  return {
    push(data) {
      pending.push(data);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}

/**
 * Counts the bytes read from `stream` that the master has not acknowledged yet: at `limit` the
 * stream is paused, and resumed once the count falls below it again.
 */
function readWindow(stream: Readable, limit: number): { read: (bytes: number) => void; acknowledged: (bytes: number) => void } {
  let unacknowledged = 0;
  return {
    read(bytes) {
      unacknowledged += bytes;
      if (unacknowledged >= limit) stream.pause();
    },
    acknowledged(bytes) {
      unacknowledged -= bytes;
      if (unacknowledged < limit && stream.isPaused()) stream.resume();
    },
  };
}
