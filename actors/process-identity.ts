/**
 * Which process owns a temp file or a process group, in a form that survives pid reuse: the pid
 * plus the process's start time (clock ticks since boot, field 22 of /proc/<pid>/stat). A pid that
 * now belongs to a younger process is not the owner. Without /proc (not Linux) the start time is
 * unknown (0) and only the pid is compared.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface ProcessStat {
  readonly pid: number;
  /** R, S, D, Z… */
  readonly state: string;
  readonly pgrp: number;
  readonly startTime: number;
}

const PROC_AVAILABLE = existsSync('/proc/self/stat');

/** The process's /proc entry, or undefined once it is gone (or there is no /proc). */
export function readProcessStat(pid: number): ProcessStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses; the fixed fields follow the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const startTime = Number(fields[19]);
  const pgrp = Number(fields[2]);
  if (!Number.isInteger(startTime) || !Number.isInteger(pgrp)) return undefined;
  return { pid, state: fields[0] ?? '?', pgrp, startTime };
}

/** This process's start time (0 when unknown). */
export const OWN_START_TIME = readProcessStat(process.pid)?.startTime ?? 0;

/** The start time of `pid` now (0 when unknown). */
export function startTimeOf(pid: number): number {
  return readProcessStat(pid)?.startTime ?? 0;
}

/**
 * Whether the process that had `pid` and `startTime` still runs. A zombie has finished; a start
 * time of 0 (not known when it was recorded) matches any process with that pid.
 */
export function isProcessAlive(pid: number, startTime: number): boolean {
  if (pid === process.pid) return startTime === 0 || startTime === OWN_START_TIME;
  const stat = readProcessStat(pid);
  if (stat !== undefined) return stat.state !== 'Z' && (startTime === 0 || stat.startTime === startTime);
  if (PROC_AVAILABLE) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live (not zombie) processes of group `pgid`; empty without /proc. */
export function processGroupMembers(pgid: number): ProcessStat[] {
  if (!PROC_AVAILABLE) return [];
  const members: ProcessStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcessStat(Number(entry));
    if (stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z') members.push(stat);
  }
  return members;
}

/** Whether process groups can be inspected here (Linux). */
export function canInspectProcesses(): boolean {
  return PROC_AVAILABLE;
}
