/** The options every command that talks to a master's admin API takes: where, and with which token. */
import type { Command } from 'commander';
import { AdminClient } from '../../actors/master/admin/admin-client.js';

export interface MasterTarget {
  master: string;
  tokenFile?: string;
}

export function addMasterOptions(command: Command): Command {
  return command
    .requiredOption('--master <dir-or-endpoint>', "a master directory (its config and admin token), or the admin server's endpoint (tcp:HOST:PORT or a URL) with --token-file")
    .option('--token-file <file>', 'the admin token, when --master is an endpoint');
}

export function adminClient(target: MasterTarget): Promise<AdminClient> {
  return AdminClient.connect(target.master, target.tokenFile);
}
