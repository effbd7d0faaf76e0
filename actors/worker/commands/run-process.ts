/**
 * Runs one child process for a command, the way Buildbot's RunProcess does (docs/master-worker-protocol.md §3.3): the
 * header sequence, output and logfile forwarding, the silence and total-time limits, the line
 * limit, and the kill sequence with its fake rc when the process will not die.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from 'pino';
import { computeChildEnvironment } from './child-environment.js';
import type { UpdateEntry } from './command.js';
import { pythonTruthy } from './command-arguments.js';
import { CommandLineError, InvalidArgumentError, KillFailedError } from './errors.js';
import { pythonOSErrorText, systemErrorDetails } from './errno-text.js';
import { LogFileWatcher } from './logfile-watcher.js';
import type { ProcessGroupRecorder } from '../process-group-ledger.js';
import { pythonBytesRepr, pythonRepr } from '../../../codec/python-repr.js';
import { shellQuoteCommand } from './shell-quote.js';

/** How long a killed process may take to exit before the command is abandoned with rc -1. */
export const KILL_BACKUP_TIMEOUT_MS = 5000;

export interface RunProcessOptions {
  /** A string runs via `/bin/sh -c`; a list is exec'd directly. */
  command: unknown;
  workdir: string;
  /** The step's `env` (applied by the env rules) or null to inherit `workerEnviron` unchanged. */
  environOverrides: unknown;
  workerEnviron: NodeJS.ProcessEnv;
  sendUpdate: (entries: readonly UpdateEntry[]) => void;
  sendStdout?: boolean;
  sendStderr?: boolean;
  /** rmdir and cpdir report their own rc, so their helper processes send none. */
  sendRC?: boolean;
  /** Seconds without any output before the process is killed; null or 0 means no limit. */
  timeout?: number | null;
  /** Seconds of total run time before the process is killed; null or 0 means no limit. */
  maxTime?: number | null;
  /** More stdout+stderr lines than this kill the process. */
  maxLines?: number | null;
  /** If set, a kill sends TERM first and `interruptSignal` only after this many seconds. */
  sigtermTime?: number | null;
  /** Signal name without the SIG prefix. */
  interruptSignal?: string;
  initialStdin?: string | null;
  logEnviron?: boolean;
  /** `{name: path}` or `{name: {filename, follow}}`, relative to `workdir`. */
  logfiles?: Record<string, unknown>;
  usePTY?: boolean;
  logger?: Logger | undefined;
  /** Where the child's process group is recorded while it runs, so a worker killed meanwhile can reap it at its next start. */
  processGroups?: ProcessGroupRecorder | undefined;
}

interface ParsedCommand {
  readonly argv: readonly string[];
  /** First header line. */
  readonly display: string;
  /** How Buildbot prints the (obfuscated) command in `argv:` and timeout headers: Python bytes reprs. */
  readonly fakeRepr: string;
}

/**
 * Lists may carry `['obfuscated', real, fake]` triples so that secrets run but are not shown.
 * Buildbot only honours them over PB (msgpack turns its tuples into lists); we honour both forms.
 */
function parseCommand(command: unknown): ParsedCommand {
  if (typeof command === 'string') {
    return { argv: ['/bin/sh', '-c', command], display: command, fakeRepr: pythonBytesRepr(command) };
  }
  if (!Array.isArray(command) || command.length === 0) {
    throw new InvalidArgumentError('WorkerShellCommand', 'command', 'a string or a non-empty list');
  }
  const real: string[] = [];
  const fake: string[] = [];
  command.forEach((element: unknown, index) => {
    if (typeof element === 'string') {
      real.push(element);
      fake.push(element);
    } else if (
      Array.isArray(element) &&
      element.length === 3 &&
      element[0] === 'obfuscated' &&
      typeof element[1] === 'string' &&
      typeof element[2] === 'string'
    ) {
      real.push(element[1]);
      fake.push(element[2]);
    } else {
      throw new CommandLineError(index);
    }
  });
  return { argv: real, display: shellQuoteCommand(fake), fakeRepr: `[${fake.map((item) => pythonBytesRepr(item)).join(', ')}]` };
}

function secondsUnit(value: number): string {
  return value === 1 ? 'sec' : 'secs';
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export class RunProcess {
  private readonly command: ParsedCommand;
  private readonly environ: Record<string, string>;
  private readonly sendStdout: boolean;
  private readonly sendStderr: boolean;
  private readonly sendRC: boolean;
  private readonly timeoutSeconds: number | null;
  private readonly maxTimeSeconds: number | null;
  private readonly maxLines: number | null;
  private readonly sigtermTimeSeconds: number | null;
  private readonly interruptSignal: string;
  private readonly initialStdin: string | null;
  private readonly logEnviron: boolean;
  private readonly logfiles: Record<string, unknown>;
  private readonly watchers: LogFileWatcher[] = [];
  private readonly logger: Logger | undefined;
  private readonly usePTYRequested: boolean;

  private child: ChildProcessWithoutNullStreams | undefined;
  private startTime = 0;
  private lineCount = 0;
  private killedByLineLimit = false;
  /** Set once a kill began, so that an exit status of 0 is reported as a failure. */
  private killed = false;
  private ended = false;
  private settled = false;
  private spawnError: unknown;
  private silenceTimer: NodeJS.Timeout | undefined;
  private maxTimeTimer: NodeJS.Timeout | undefined;
  private sigtermTimer: NodeJS.Timeout | undefined;
  private backupTimer: NodeJS.Timeout | undefined;
  private resolveDone: (rc: number) => void = () => undefined;
  private rejectDone: (error: unknown) => void = () => undefined;

  constructor(private readonly options: RunProcessOptions) {
    this.command = parseCommand(options.command);
    this.logger = options.logger;
    this.sendStdout = options.sendStdout ?? true;
    this.sendStderr = options.sendStderr ?? true;
    this.sendRC = options.sendRC ?? true;
    this.timeoutSeconds = options.timeout ?? null;
    this.maxTimeSeconds = options.maxTime ?? null;
    this.maxLines = options.maxLines ?? null;
    this.sigtermTimeSeconds = options.sigtermTime ?? null;
    this.interruptSignal = (options.interruptSignal ?? 'KILL').replace(/^SIG/, '');
    this.initialStdin = options.initialStdin ?? null;
    this.logEnviron = options.logEnviron ?? true;
    this.logfiles = options.logfiles ?? {};
    this.usePTYRequested = options.usePTY ?? false;

    if (!isDirectory(options.workdir)) mkdirSync(options.workdir, { recursive: true });
    this.environ = computeChildEnvironment(options.environOverrides, options.workerEnviron);

    for (const [name, value] of Object.entries(this.logfiles)) {
      let filename: unknown = value;
      let follow = false;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        filename = (value as Record<string, unknown>)['filename'];
        follow = pythonTruthy((value as Record<string, unknown>)['follow']);
      }
      if (typeof filename !== 'string') throw new InvalidArgumentError('WorkerShellCommand', `logfiles.${name}`, 'a path or {filename, follow}');
      const path = isAbsolute(filename) ? filename : join(options.workdir, filename);
      this.watchers.push(new LogFileWatcher(name, path, follow, (text) => this.addLogText(name, text), this.logger));
    }
  }

  /** Resolves with the rc once the process ended; rejects if it could not be killed. */
  start(): Promise<number> {
    const done = new Promise<number>((resolveDone, rejectDone) => {
      this.resolveDone = resolveDone;
      this.rejectDone = rejectDone;
    });
    const send = this.options.sendUpdate;
    if (this.usePTYRequested) {
      // Node has no PTYs without a native addon; Buildbot sends this text when it cannot use one.
      send([['header', 'WARNING: disabling usePTY for this command\n']]);
    }
    this.environ['PWD'] = resolve(this.options.workdir);

    send([['header', `${this.command.display}\n`]]);
    let where = ` in dir ${this.options.workdir}`;
    if (this.timeoutSeconds) where += ` (timeout ${this.timeoutSeconds} ${secondsUnit(this.timeoutSeconds)})`;
    if (this.maxTimeSeconds) where += ` (maxTime ${this.maxTimeSeconds} ${secondsUnit(this.maxTimeSeconds)})`;
    send([['header', `${where}\n`]]);
    send([['header', ` watching logfiles ${pythonRepr(this.logfiles)}\n`]]);
    send([['header', ` argv: ${this.command.fakeRepr}\n`]]);
    if (this.logEnviron) {
      const lines = Object.keys(this.environ)
        .sort()
        .map((name) => `  ${name}=${this.environ[name]}\n`);
      send([['header', ` environment:\n${lines.join('')}`]]);
    }
    if (this.initialStdin) {
      send([['header', ` writing ${Buffer.byteLength(this.initialStdin, 'utf8')} bytes to stdin\n`]]);
    }
    send([['header', ' using PTY: False\n']]);

    this.startTime = performance.now();
    this.spawnChild();
    if (this.timeoutSeconds) this.silenceTimer = setTimeout(() => this.onSilence(), this.timeoutSeconds * 1000);
    if (this.maxTimeSeconds) this.maxTimeTimer = setTimeout(() => this.onMaxTime(), this.maxTimeSeconds * 1000);
    for (const watcher of this.watchers) watcher.start();
    return done;
  }

  /** Buildbot's `kill(msg)`: announce, then signal the process group (TERM first if `sigtermTime`). */
  kill(reason: string): void {
    this.cancelTimers();
    this.options.sendUpdate([['header', `\n${reason}, attempting to kill\n`]]);
    this.killed = true;
    if (this.sigtermTimeSeconds !== null) {
      this.sendSignal('TERM');
      this.sigtermTimer = setTimeout(() => this.escalateAfterSigterm(), this.sigtermTimeSeconds * 1000);
    } else {
      this.stopListening(this.sendSignal(this.interruptSignal));
    }
  }

  /** Connection lost: SIGKILL the whole group at once, no announcement. */
  killImmediately(): void {
    if (this.settled) {
      // The command was abandoned after a failed kill; make one last attempt.
      this.sendSignal('KILL');
      return;
    }
    this.cancelTimers();
    this.killed = true;
    this.stopListening(this.sendSignal('KILL'));
  }

  private spawnChild(): void {
    const [executable, ...args] = this.command.argv as [string, ...string[]];
    // detached: the child leads a new process group, so signals reach everything it started.
    const child = spawn(executable, args, {
      cwd: this.options.workdir,
      env: this.environ,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    if (child.pid !== undefined) this.options.processGroups?.record(child.pid, this.command.display);
    child.on('error', (error) => {
      if (child.pid === undefined) this.spawnError = error;
      else this.logger?.warn({ err: error }, 'child process error');
    });
    child.stdin.on('error', () => {
      // The process need not read its stdin; a broken pipe there is not an error of the command.
    });
    if (this.initialStdin) child.stdin.write(this.initialStdin);
    child.stdin.end();

    const stdoutDecoder = new StringDecoder('utf8');
    const stderrDecoder = new StringDecoder('utf8');
    child.stdout.on('data', (chunk: Buffer) => this.addStdout(stdoutDecoder.write(chunk)));
    child.stderr.on('data', (chunk: Buffer) => this.addStderr(stderrDecoder.write(chunk)));
    child.stdout.on('end', () => this.addStdout(stdoutDecoder.end()));
    child.stderr.on('end', () => this.addStderr(stderrDecoder.end()));
    child.on('close', (code, signal) => {
      if (child.pid !== undefined) this.options.processGroups?.release(child.pid);
      void this.onProcessEnded(code, signal);
    });
  }

  private addStdout(text: string): void {
    if (text === '') return;
    if (this.sendStdout) {
      this.countLines(text);
      this.options.sendUpdate([['stdout', text]]);
    }
    this.silenceTimer?.refresh();
  }

  private addStderr(text: string): void {
    if (text === '') return;
    if (this.sendStderr) {
      this.countLines(text);
      this.options.sendUpdate([['stderr', text]]);
    }
    this.silenceTimer?.refresh();
  }

  private addLogText(name: string, text: string): void {
    this.options.sendUpdate([['log', [name, text]]]);
    this.silenceTimer?.refresh();
  }

  private countLines(text: string): void {
    if (this.maxLines === null) return;
    this.lineCount += text.match(/\r\n|\r|\n/g)?.length ?? 0;
    if (this.lineCount > this.maxLines && !this.killedByLineLimit) {
      this.killedByLineLimit = true;
      // Stop reading stdout at once: a runaway writer then dies of SIGPIPE even before the signal.
      this.child?.stdout.destroy();
      this.options.sendUpdate([['failure_reason', 'max_lines_failure']]);
      this.kill(`command exceeds max lines: ${this.lineCount}/${this.maxLines} written/allowed running ${this.command.fakeRepr}`);
    }
  }

  private onSilence(): void {
    this.silenceTimer = undefined;
    this.options.sendUpdate([['failure_reason', 'timeout_without_output']]);
    this.kill(`command timed out: ${this.timeoutSeconds} seconds without output running ${this.command.fakeRepr}`);
  }

  private onMaxTime(): void {
    this.maxTimeTimer = undefined;
    this.options.sendUpdate([['failure_reason', 'timeout']]);
    this.kill(`command timed out: ${this.maxTimeSeconds} seconds elapsed running ${this.command.fakeRepr}`);
  }

  private escalateAfterSigterm(): void {
    this.sigtermTimer = undefined;
    this.stopListening(this.isLeaderDead() ? true : this.sendSignal(this.interruptSignal));
  }

  private isLeaderDead(): boolean {
    const child = this.child;
    if (child?.pid === undefined) return true;
    if (child.exitCode !== null || child.signalCode !== null) return true;
    try {
      process.kill(child.pid, 0);
      return false;
    } catch {
      return true;
    }
  }

  /** Signals the process group, falling back to the leader alone; true if a signal was delivered. */
  private sendSignal(name: string): boolean {
    const child = this.child;
    const signalNumber = (constants.signals as Record<string, number | undefined>)[`SIG${name}`];
    if (child?.pid === undefined) return false;
    if (signalNumber === undefined) {
      this.logger?.warn({ signal: name }, 'unknown signal name; cannot kill');
      return false;
    }
    // Buildbot signals the group only once and the leader afterwards; every signal goes to the
    // group here, so that children that ignored TERM still get the final signal.
    try {
      process.kill(-child.pid, signalNumber);
      return true;
    } catch (error) {
      this.logger?.debug({ err: error }, 'failed to signal process group');
    }
    try {
      process.kill(child.pid, signalNumber);
      return true;
    } catch (error) {
      this.logger?.debug({ err: error }, 'failed to signal process');
      return false;
    }
  }

  /**
   * After the final signal: stop reading the pipes (a grandchild that keeps them open must not
   * keep the command alive) and give the process a last chance to exit.
   */
  private stopListening(signalDelivered: boolean): void {
    if (!signalDelivered) this.logger?.info('no signal could be delivered; waiting for the process anyway');
    const child = this.child;
    if (child) {
      child.stdout.destroy();
      child.stderr.destroy();
      child.stdin.destroy();
    }
    if (!this.settled && !this.ended && this.backupTimer === undefined) {
      this.backupTimer = setTimeout(() => this.onKillFailed(), KILL_BACKUP_TIMEOUT_MS);
    }
  }

  private onKillFailed(): void {
    this.backupTimer = undefined;
    const signalName = `SIG${this.interruptSignal}`;
    this.options.sendUpdate([['header', `${signalName} failed to kill process\n`]]);
    if (this.sendRC) this.options.sendUpdate([['header', 'using fake rc=-1\n'], ['rc', -1]]);
    this.fail(new KillFailedError(signalName));
  }

  private async onProcessEnded(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (this.ended || this.settled) return;
    this.ended = true;
    this.cancelTimers();
    let rc = code ?? 0;
    if (this.spawnError !== undefined) {
      // Exec failed; a forking worker's child reports that on stderr and exits 1.
      const details = systemErrorDetails(this.spawnError);
      const reason = details ? pythonOSErrorText(details, undefined) : String(this.spawnError);
      this.addStderr(`cannot execute ${pythonRepr(this.command.argv[0])}: ${reason}\n`);
      rc = 1;
    }
    const elapsedSeconds = (performance.now() - this.startTime) / 1000;
    await Promise.all(this.watchers.map((watcher) => watcher.stop()));
    if (this.settled) return;
    const signalNumber = signal === null ? null : ((constants.signals as Record<string, number | undefined>)[signal] ?? null);
    // Killed processes must not look successful; a trapped TERM keeps its own nonzero code.
    if (this.killed && rc === 0) rc = -1;
    if (signal !== null) rc = -1;
    if (this.sendRC) {
      if (signal !== null) this.options.sendUpdate([['header', `process killed by signal ${signalNumber ?? signal}\n`]]);
      this.options.sendUpdate([['rc', rc]]);
    }
    this.options.sendUpdate([['header', `elapsedTime=${elapsedSeconds.toFixed(6)}\n`]]);
    this.settled = true;
    this.resolveDone(rc);
  }

  private fail(error: unknown): void {
    this.cancelTimers();
    if (this.settled) return;
    this.settled = true;
    for (const watcher of this.watchers) watcher.abandon();
    this.rejectDone(error);
  }

  private cancelTimers(): void {
    clearTimeout(this.silenceTimer);
    clearTimeout(this.maxTimeTimer);
    clearTimeout(this.sigtermTimer);
    clearTimeout(this.backupTimer);
    this.silenceTimer = undefined;
    this.maxTimeTimer = undefined;
    this.sigtermTimer = undefined;
    this.backupTimer = undefined;
  }
}
