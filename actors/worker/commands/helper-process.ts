/**
 * The helper processes (`rm`, `chmod`, `cp`) that rmdir and cpdir run in the worker basedir. They
 * send output and headers like a shell command but no rc: the command reports one rc at the end.
 */
import type { CommandContext } from './command-runner.js';
import { RunProcess } from './run-process.js';

export interface HelperLimits {
  readonly timeout: number | null;
  readonly maxTime: number | null;
  readonly logEnviron: boolean;
}

export class HelperProcessRunner {
  private current: RunProcess | undefined;
  private killed = false;

  constructor(
    private readonly context: CommandContext,
    private readonly limits: HelperLimits,
  ) {}

  /** Runs `argv` to completion and returns its rc (-1 once killed). */
  async run(argv: readonly string[]): Promise<number> {
    if (this.killed) return -1;
    const helper = new RunProcess({
      command: [...argv],
      workdir: this.context.env.basedir,
      environOverrides: null,
      workerEnviron: this.context.env.environ,
      sendUpdate: (entries) => this.context.sendUpdate(entries),
      sendRC: false,
      timeout: this.limits.timeout,
      maxTime: this.limits.maxTime,
      logEnviron: this.limits.logEnviron,
      usePTY: false,
      logger: this.context.logger,
      processGroups: this.context.env.processGroups,
    });
    this.current = helper;
    return helper.start();
  }

  kill(): void {
    this.killed = true;
    this.current?.killImmediately();
  }
}
