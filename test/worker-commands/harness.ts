/**
 * A declarative harness for worker commands in the style of Buildbot's step tests
 * (`ExpectShell(...).stdout(...).exit(0)`): a fake in-memory master records what a command sends,
 * acts as FileWriter/FileReader, and the expectation lists the updates the master must see.
 *
 * Updates are compared after merging adjacent text of the same stream, because where batches
 * split is timing, not behaviour.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { CommandChannel, CommandEnvironment, RunningCommand, UpdateEntry } from '../../actors/worker/commands/command.js';
import { startCommand } from '../../actors/worker/commands/registry.js';

export type Matcher<T> = T | RegExp | ((value: T) => boolean);

export class FakeMaster implements CommandChannel {
  readonly batches: UpdateEntry[][] = [];
  /** Every FileWriter/FileReader call in order, e.g. `write 5`, `close`, `utime`, `read 16`. */
  readonly calls: string[] = [];
  readonly written: Buffer[] = [];
  readonly utimes: Array<[number, number]> = [];
  /** What the FileReader serves. */
  readerData = Buffer.alloc(0);
  /** Serve at most this many bytes per read even if more were asked (a slow master). */
  readerChunkLimit = Number.POSITIVE_INFINITY;
  private readerOffset = 0;
  failures: Partial<Record<'write' | 'close' | 'utime' | 'unpack' | 'read' | 'closeReader', Error>> = {};
  /** Runs before a call is answered; tests interrupt commands from here. */
  onCall: ((call: string, index: number) => void | Promise<void>) | undefined;
  private writeCount = 0;

  /** What `sendUpdate` reports: false plays a master that answers updates with an error. */
  updatesAccepted = true;

  sendUpdate(entries: readonly UpdateEntry[]): Promise<boolean> {
    this.batches.push([...entries]);
    return Promise.resolve(this.updatesAccepted);
  }

  get updates(): UpdateEntry[] {
    return this.batches.flat();
  }

  get uploaded(): Buffer {
    return Buffer.concat(this.written);
  }

  async writeBlock(data: Buffer): Promise<void> {
    await this.record(`write ${data.length}`, this.writeCount++, 'write');
    this.written.push(Buffer.from(data));
  }

  async closeWriter(): Promise<void> {
    await this.record('close', 0, 'close');
  }

  async utime(accessTime: number, modifiedTime: number): Promise<void> {
    await this.record('utime', 0, 'utime');
    this.utimes.push([accessTime, modifiedTime]);
  }

  async unpack(): Promise<void> {
    await this.record('unpack', 0, 'unpack');
  }

  async readBlock(maxLength: number): Promise<Buffer> {
    await this.record(`read ${maxLength}`, 0, 'read');
    const length = Math.min(maxLength, this.readerChunkLimit);
    const block = this.readerData.subarray(this.readerOffset, this.readerOffset + length);
    this.readerOffset += block.length;
    return Buffer.from(block);
  }

  async closeReader(): Promise<void> {
    await this.record('closeReader', 0, 'closeReader');
  }

  private async record(call: string, index: number, kind: keyof FakeMaster['failures']): Promise<void> {
    this.calls.push(call);
    await this.onCall?.(call, index);
    // Answers arrive asynchronously, as over a real connection.
    await new Promise((resolve) => setImmediate(resolve));
    const failure = this.failures[kind];
    if (failure) throw failure;
  }
}

export type MergedUpdate = readonly [key: string, value: unknown];

const TEXT_KEYS = new Set(['stdout', 'stderr', 'header']);

/** Concatenates adjacent text of the same stream (and of the same log). */
export function mergeUpdates(updates: readonly UpdateEntry[]): MergedUpdate[] {
  const merged: Array<[string, unknown]> = [];
  for (const [key, value] of updates) {
    const last = merged.at(-1);
    if (last && TEXT_KEYS.has(key) && last[0] === key && typeof value === 'string') {
      last[1] = (last[1] as string) + value;
    } else if (last && key === 'log' && last[0] === 'log') {
      const [lastName, lastText] = last[1] as [string, string];
      const [name, text] = value as [string, string];
      if (lastName === name) last[1] = [name, lastText + text];
      else merged.push([key, value]);
    } else {
      merged.push([key, Array.isArray(value) ? [...value] : value]);
    }
  }
  return merged;
}

export function matches<T>(matcher: Matcher<T>, value: T): boolean {
  if (matcher instanceof RegExp) return typeof value === 'string' && matcher.test(value);
  if (typeof matcher === 'function') return (matcher as (value: T) => boolean)(value);
  return Object.is(matcher, value) || JSON.stringify(matcher) === JSON.stringify(value);
}

interface ExpectedUpdate {
  readonly description: string;
  readonly key: string;
  readonly check: (value: unknown) => boolean;
}

export interface CommandRun {
  readonly master: FakeMaster;
  readonly updates: UpdateEntry[];
  readonly merged: MergedUpdate[];
  readonly error: unknown;
  readonly command: RunningCommand;
}

export function tempDir(prefix = 'worker-cmd-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

export class CommandExpectation {
  private readonly expected: ExpectedUpdate[] = [];
  private expectedFailure: Matcher<string> | undefined;
  private shouldFail = false;
  private readonly master = new FakeMaster();
  private env: CommandEnvironment = {
    basedir: tmpdir(),
    environ: { ...process.env },
    output: { bufferTimeoutSeconds: 0.05 },
  };
  private action: ((command: RunningCommand, master: FakeMaster) => void | Promise<void>) | undefined;
  private strict = true;

  constructor(
    private readonly name: string,
    private readonly args: Record<string, unknown>,
  ) {}

  header(matcher: Matcher<string>): this {
    return this.text('header', matcher);
  }

  stdout(matcher: Matcher<string>): this {
    return this.text('stdout', matcher);
  }

  stderr(matcher: Matcher<string>): this {
    return this.text('stderr', matcher);
  }

  log(name: string, matcher: Matcher<string>): this {
    this.expected.push({
      description: `log ${name} ${String(matcher)}`,
      key: 'log',
      check: (value) => Array.isArray(value) && value[0] === name && matches(matcher, value[1] as string),
    });
    return this;
  }

  update(key: string, matcher: Matcher<unknown>): this {
    this.expected.push({ description: `${key} ${String(matcher)}`, key, check: (value) => matches(matcher, value) });
    return this;
  }

  rc(code: number): this {
    return this.update('rc', code);
  }

  elapsed(): this {
    return this.update('elapsed', (value: unknown) => typeof value === 'number' && value >= 0);
  }

  /** The `elapsedTime=S.ssssss` header a process sends when it ends. */
  elapsedTime(): this {
    return this.header(/^elapsedTime=\d+\.\d{6}\n$/);
  }

  /** Only check that the expected updates appear in this order, allowing others in between. */
  loosely(): this {
    this.strict = false;
    return this;
  }

  withEnv(env: Partial<CommandEnvironment>): this {
    this.env = { ...this.env, ...env };
    return this;
  }

  withMaster(setup: (master: FakeMaster) => void): this {
    setup(this.master);
    return this;
  }

  /** Runs alongside the command, e.g. to interrupt it once it printed something. */
  during(action: (command: RunningCommand, master: FakeMaster) => void | Promise<void>): this {
    this.action = action;
    return this;
  }

  fails(matcher?: Matcher<string>): this {
    this.shouldFail = true;
    this.expectedFailure = matcher;
    return this;
  }

  async run(): Promise<CommandRun> {
    const command = startCommand(this.name, this.args, this.master, this.env);
    let error: unknown;
    const actionDone = this.action ? Promise.resolve(this.action(command, this.master)) : Promise.resolve();
    try {
      await command.done;
    } catch (caught) {
      error = caught;
    }
    await actionDone;
    const updates = this.master.updates;
    const merged = mergeUpdates(updates);
    const run: CommandRun = { master: this.master, updates, merged, error, command };
    this.verify(run);
    return run;
  }

  private text(key: string, matcher: Matcher<string>): this {
    this.expected.push({
      description: `${key} ${matcher instanceof RegExp ? matcher : JSON.stringify(matcher)}`,
      key,
      check: (value) => typeof value === 'string' && matches(matcher, value),
    });
    return this;
  }

  private verify(run: CommandRun): void {
    const shown = JSON.stringify(run.merged, null, 1);
    if (this.shouldFail) {
      expect(run.error, `command should fail; updates: ${shown}`).toBeDefined();
      if (this.expectedFailure !== undefined) {
        const message = run.error instanceof Error ? run.error.message : String(run.error);
        const matched = matches(this.expectedFailure, message) || matches(this.expectedFailure, String(run.error));
        expect(matched, `failure ${String(run.error)}`).toBe(true);
      }
    } else if (run.error !== undefined) {
      throw new Error(`command failed unexpectedly: ${String(run.error)}; updates: ${shown}`, { cause: run.error });
    }
    let position = 0;
    for (const expectation of this.expected) {
      if (this.strict) {
        const actual = run.merged[position];
        if (!actual || actual[0] !== expectation.key || !expectation.check(actual[1])) {
          throw new Error(`update #${position}: expected ${expectation.description}, got ${JSON.stringify(actual)}; all: ${shown}`);
        }
        position += 1;
      } else {
        const found = run.merged.findIndex((entry, index) => index >= position && entry[0] === expectation.key && expectation.check(entry[1]));
        if (found < 0) throw new Error(`expected ${expectation.description} after update #${position}; all: ${shown}`);
        position = found + 1;
      }
    }
    if (this.strict && position !== run.merged.length) {
      throw new Error(`unexpected updates after #${position - 1}: ${JSON.stringify(run.merged.slice(position))}`);
    }
  }
}

export function expectCommand(name: string, args: Record<string, unknown>): CommandExpectation {
  return new CommandExpectation(name, args);
}

/** Resolves once the master has seen an update satisfying `predicate` (or rejects after `timeoutMs`). */
export async function waitForUpdate(
  master: FakeMaster,
  predicate: (entry: UpdateEntry) => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!master.updates.some(predicate)) {
    if (Date.now() > deadline) throw new Error(`no matching update within ${timeoutMs} ms: ${JSON.stringify(master.updates)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Processes of group `pgid` that are still running. Zombies do not count: orphans are reparented
 * to PID 1, which in some containers never reaps them.
 */
export function livingProcessesInGroup(pgid: number): number[] {
  const living: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') living.push(Number(name));
  }
  return living;
}

/** Polls until no process of the group runs any more; returns the survivors if some remain. */
export async function waitForGroupExit(pgid: number, timeoutMs = 2000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const living = livingProcessesInGroup(pgid);
    if (living.length === 0 || Date.now() > deadline) return living;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
