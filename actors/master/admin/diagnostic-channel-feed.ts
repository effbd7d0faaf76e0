/**
 * The commands and transfers the master's diagnostic channels report (actors/master/diagnostic-
 * channels.ts), as farm events: every command counts, whether the admin API, a build or a program
 * using RemoteCommand directly ran it.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Connection } from '../connection-api.js';
import {
  CHANNEL_NAMES,
  type CommandFinishMessage,
  type CommandStartMessage,
  type CommandUpdateMessage,
  type TransferProgressMessage,
} from '../diagnostic-channels.js';
import type { FarmEventBus } from './farm-events.js';

/** Whether a command on that connection belongs to this farm. */
export type OwnsConnection = (worker: string, connection: Connection) => boolean;

/** What a person reads for a command: the shell command line, the worker-side path. */
export function describeCommand(command: string, args: Readonly<Record<string, unknown>>): string {
  const { command: line, workersrc, workerdest } = args;
  if (command === 'shell' && typeof line === 'string') return line;
  if (command === 'shell' && Array.isArray(line)) return line.map(String).join(' ');
  if (typeof workerdest === 'string') return `→ ${workerdest}`;
  if (typeof workersrc === 'string') return `← ${workersrc}`;
  return command;
}

/** Publishes what the channels report on `bus` until the returned function is called. */
export function feedFromDiagnosticChannels(bus: FarmEventBus, owns: OwnsConnection): () => void {
  const handlers: Record<string, (message: unknown) => void> = {
    [CHANNEL_NAMES.commandStart]: (message) => {
      const { commandId, worker, connection, command, args } = message as CommandStartMessage;
      if (!owns(worker, connection)) return;
      bus.publish({ type: 'command-started', at: new Date(), commandId, worker, command, summary: describeCommand(command, args) });
    },
    [CHANNEL_NAMES.commandUpdate]: (message) => {
      const { commandId, worker, connection, key, value } = message as CommandUpdateMessage;
      if ((key !== 'stdout' && key !== 'stderr' && key !== 'header') || !owns(worker, connection)) return;
      bus.publish({ type: 'command-output', at: new Date(), commandId, worker, stream: key, text: String(value) });
    },
    [CHANNEL_NAMES.commandFinish]: (message) => {
      const { commandId, worker, connection, command, result, durationMs } = message as CommandFinishMessage;
      // A disconnect ends the command after its connection left the farm: the id still ties it up.
      if (!owns(worker, connection) && !bus.isRunning(commandId)) return;
      const failure = result.failure?.message;
      bus.publish({
        type: 'command-finished',
        at: new Date(),
        commandId,
        worker,
        command,
        rc: result.rc,
        results: result.results,
        durationMs,
        ...(failure !== undefined ? { failure } : {}),
      });
    },
    [CHANNEL_NAMES.transferProgress]: (message) => {
      const { commandId, worker, connection, direction, bytes, done } = message as TransferProgressMessage;
      if (!owns(worker, connection) && !bus.isRunning(commandId)) return;
      bus.publish({ type: 'transfer-progress', at: new Date(), commandId, worker, direction, bytes, done });
    },
  };
  for (const [name, handler] of Object.entries(handlers)) subscribe(name, handler);
  return () => {
    for (const [name, handler] of Object.entries(handlers)) unsubscribe(name, handler);
  };
}
