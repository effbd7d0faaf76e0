/**
 * `ampstate worker systemd-unit BASEDIR`: a unit that runs the worker in the foreground under
 * systemd, which then owns restarts and logging (the journal gets the worker's stderr).
 * KillMode=mixed: SIGTERM reaches the worker alone, so it kills its commands' process groups
 * itself and logs out; whatever is left after the stop timeout gets SIGKILL.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

export interface SystemdUnitOptions {
  readonly basedir: string;
  /** Absolute path of the node binary. */
  readonly node: string;
  /** Node's own options, before the script (`--max-semi-space-size=1`): what this CLI ran with. */
  readonly nodeArguments?: readonly string[];
  /** Absolute path of the CLI's entry script. */
  readonly entryPoint: string;
  /** The account to run as; by default the owner of the basedir. */
  readonly user?: string;
}

/** systemd splits ExecStart on spaces; quote what needs it. */
function quote(argument: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(argument) ? argument : `"${argument.replace(/(["\\])/g, '\\$1')}"`;
}

/** The login name of `uid` from /etc/passwd, or the number itself (systemd accepts both). */
export function userNameOf(uid: number): string {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name !== undefined && id === String(uid)) return name;
    }
  } catch {
    // No passwd file: the numeric id will do.
  }
  return String(uid);
}

export function renderSystemdUnit(options: SystemdUnitOptions): string {
  const basedir = resolve(options.basedir);
  const user = options.user ?? userNameOf(statSync(basedir).uid);
  const command = [options.node, ...(options.nodeArguments ?? []), options.entryPoint, 'worker', 'start', '--nodaemon', basedir].map(quote).join(' ');
  return [
    '[Unit]',
    `Description=ampstate build worker (${basedir})`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `User=${user}`,
    `WorkingDirectory=${quote(basedir)}`,
    `ExecStart=${command}`,
    'Restart=on-failure',
    'KillMode=mixed',
    'TimeoutStopSec=30',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
