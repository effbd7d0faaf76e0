/**
 * CPU time (user + system, in seconds) of this process or of a child, for "CPU per operation"
 * figures: this process through process.cpuUsage (microseconds), a child through fields 14 and 15
 * of /proc/<pid>/stat (clock ticks; Linux's USER_HZ is 100 on every architecture Node runs on).
 */
import { readFileSync } from 'node:fs';

const USER_HZ = 100;

export function processCpuSeconds(pid: number | 'self'): number {
  if (pid === 'self') {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/** CPU seconds the given processes spent together while `work` ran. */
export async function cpuDuring<T>(pids: readonly (number | 'self')[], work: () => Promise<T>): Promise<{ value: T; cpuSeconds: number }> {
  const total = () => pids.reduce<number>((sum, pid) => sum + processCpuSeconds(pid), 0);
  const before = total();
  const value = await work();
  return { value, cpuSeconds: total() - before };
}
