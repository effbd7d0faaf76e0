/**
 * The process groups this worker started, kept in `<basedir>/process-groups.json` so that a
 * worker killed with SIGKILL (which cannot kill its commands) leaves a list for the next one: at
 * startup it SIGKILLs every group left there that still runs, and logs each. A group is recorded
 * with its leader's start time, and a pid that now belongs to a younger process is never signalled
 * (docs/master-worker-protocol.md §3.6). Linux: without /proc nothing can be checked and nothing is
 * reaped.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomically } from '../atomic-file.js';
import type { Logger } from '../logger.js';
import { canInspectProcesses, processGroupMembers, readProcessStat, startTimeOf } from '../process-identity.js';

export const PROCESS_GROUPS_FILE = 'process-groups.json';
export const PROCESS_GROUPS_TEMP_PREFIX = '.process-groups-';
/** How soon a group whose leader ended is looked at again. */
const RECHECK_MS = 200;

export interface ProcessGroupEntry {
  readonly pgid: number;
  /** The leader's start time (clock ticks since boot); 0 when unknown. */
  readonly startTime: number;
  /** What ran, for the log line that reports its reaping. */
  readonly command: string;
}

/** What RunProcess needs: it records a group when it spawns its leader and releases it when the leader ended. */
export interface ProcessGroupRecorder {
  record(pgid: number, command: string): void;
  release(pgid: number): void;
}

export interface ReapedGroup extends ProcessGroupEntry {
  /** How many of its processes were still running. */
  readonly processes: number;
}

export class ProcessGroupLedger implements ProcessGroupRecorder {
  private readonly groups = new Map<number, ProcessGroupEntry & { ended: boolean }>();
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly logger: Logger | undefined,
  ) {}

  /** Reaps what a previous run of the worker in `basedir` left running, then starts an empty list. */
  static async open(basedir: string, logger?: Logger): Promise<{ ledger: ProcessGroupLedger; reaped: ReapedGroup[] }> {
    const ledger = new ProcessGroupLedger(join(basedir, PROCESS_GROUPS_FILE), logger);
    const reaped = ledger.reap(await ledger.readLeftovers());
    await ledger.save();
    return { ledger, reaped };
  }

  record(pgid: number, command: string): void {
    this.pruneEnded();
    this.groups.set(pgid, { pgid, startTime: startTimeOf(pgid), command, ended: false });
    this.save().catch((error: unknown) => this.logger?.warn({ err: error, path: this.path }, 'cannot record a process group'));
  }

  /** The leader ended; the entry goes once no process of the group is left (a straggler keeps it for the next reaping). */
  release(pgid: number): void {
    const entry = this.groups.get(pgid);
    if (entry === undefined) return;
    entry.ended = true;
    if (processGroupMembers(pgid).length > 0) {
      // Killed members may take a moment to die; a straggler that stays keeps the entry.
      setTimeout(() => this.pruneEnded(), RECHECK_MS).unref();
      return;
    }
    this.pruneEnded();
  }

  /** The groups recorded now (tests, diagnostics). */
  get entries(): readonly ProcessGroupEntry[] {
    return [...this.groups.values()].map(({ pgid, startTime, command }) => ({ pgid, startTime, command }));
  }

  /** Resolves once the file holds the current list. */
  flushed(): Promise<void> {
    return this.writing;
  }

  /** Drops the ended groups with no process left, and saves the list if that changed it. */
  private pruneEnded(): void {
    let changed = false;
    for (const [pgid, entry] of this.groups) {
      if (entry.ended && processGroupMembers(pgid).length === 0) changed = this.groups.delete(pgid) || changed;
    }
    if (changed) this.save().catch((error: unknown) => this.logger?.warn({ err: error, path: this.path }, 'cannot update the process group list'));
  }

  private save(): Promise<void> {
    // Writes go one after another, each with the list as it is when its turn comes.
    const next = this.writing.then(() => writeFileAtomically(this.path, `${JSON.stringify({ groups: this.entries }, null, 1)}\n`, PROCESS_GROUPS_TEMP_PREFIX));
    this.writing = next.catch(() => undefined);
    return next;
  }

  private async readLeftovers(): Promise<ProcessGroupEntry[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return [];
    }
    try {
      const groups = (JSON.parse(text) as { groups?: unknown }).groups;
      if (!Array.isArray(groups)) throw new TypeError('no "groups" list');
      return groups.filter(isEntry);
    } catch (error) {
      this.logger?.warn({ path: this.path, reason: (error as Error).message }, 'ignoring an unreadable process group list');
      return [];
    }
  }

  private reap(leftovers: readonly ProcessGroupEntry[]): ReapedGroup[] {
    if (leftovers.length === 0) return [];
    if (!canInspectProcesses()) {
      this.logger?.warn({ groups: leftovers.length }, 'process groups of a previous run may still be running; without /proc they cannot be checked, so they are left alone');
      return [];
    }
    const reaped: ReapedGroup[] = [];
    const own = readProcessStat(process.pid)?.pgrp;
    for (const entry of leftovers) {
      if (entry.pgid === process.pid || entry.pgid === own) continue;
      const members = processGroupMembers(entry.pgid);
      if (members.length === 0) continue;
      const leader = members.find((member) => member.pid === entry.pgid);
      // The leader's pid now names a younger process, or a member is older than the group: not ours.
      const reused = leader !== undefined ? leader.startTime !== entry.startTime : members.some((member) => member.startTime < entry.startTime);
      if (reused) {
        this.logger?.info({ pgid: entry.pgid }, 'a recorded process group id now belongs to another process; leaving it alone');
        continue;
      }
      try {
        process.kill(-entry.pgid, 'SIGKILL');
        reaped.push({ ...entry, processes: members.length });
        this.logger?.warn(
          { pgid: entry.pgid, processes: members.length, command: entry.command },
          `killed process group ${entry.pgid} left running by a previous run of this worker: ${entry.command}`,
        );
      } catch (error) {
        this.logger?.warn({ pgid: entry.pgid, code: (error as NodeJS.ErrnoException).code }, 'cannot kill a process group left by a previous run');
      }
    }
    return reaped;
  }
}

function isEntry(value: unknown): value is ProcessGroupEntry {
  if (typeof value !== 'object' || value === null) return false;
  const { pgid, startTime, command } = value as Record<string, unknown>;
  return Number.isInteger(pgid) && (pgid as number) > 1 && Number.isInteger(startTime) && typeof command === 'string';
}
