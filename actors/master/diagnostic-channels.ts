/**
 * Where the master's commands and transfers announce themselves, whoever runs them (the admin API,
 * a build, a program driving RemoteCommand and the transfer helpers directly): Node's
 * `diagnostics_channel`, as undici does for its requests. Publishers check `hasSubscribers` first,
 * so a master nobody watches pays one property read per command and per update. The channel names
 * and messages are listed in docs/master-service.md; the admin server's farm feed is one
 * subscriber, any program can be another.
 */
import { channel } from 'node:diagnostics_channel';
import type { Observable } from 'rxjs';
import type { Connection } from './connection-api.js';
import type { RemoteCommandResult } from './remote-command.js';

/** Which command on which connection: what every message carries. */
export interface CommandIdentity {
  /** The id the master gave the command on the wire; unique for the process. */
  readonly commandId: string;
  /** The worker's name. */
  readonly worker: string;
  /** The connection the command runs on: tells apart two masters with a worker of the same name. */
  readonly connection: Connection;
}

export interface CommandStartMessage extends CommandIdentity {
  /** The worker command (`shell`, `uploadFile`…). */
  readonly command: string;
  readonly builder: string;
  /** The command's arguments as sent; read them, never change them. */
  readonly args: Readonly<Record<string, unknown>>;
}

/** One `[key, value]` the worker sent (`stdout`, `stderr`, `header`, `rc`, anything else). */
export interface CommandUpdateMessage extends CommandIdentity {
  readonly key: string;
  readonly value: unknown;
}

export interface CommandFinishMessage extends CommandIdentity {
  readonly command: string;
  readonly result: RemoteCommandResult;
  /** From `run` to the end. */
  readonly durationMs: number;
}

export interface TransferProgressMessage extends CommandIdentity {
  readonly direction: 'to-worker' | 'from-worker';
  /** Bytes moved so far; the `done` message has the total. */
  readonly bytes: number;
  readonly done: boolean;
}

export const CHANNEL_NAMES = {
  commandStart: 'ampstate:command:start',
  commandUpdate: 'ampstate:command:update',
  commandFinish: 'ampstate:command:finish',
  transferProgress: 'ampstate:transfer:progress',
} as const;

export const commandStartChannel = channel(CHANNEL_NAMES.commandStart);
export const commandUpdateChannel = channel(CHANNEL_NAMES.commandUpdate);
export const commandFinishChannel = channel(CHANNEL_NAMES.commandFinish);
export const transferProgressChannel = channel(CHANNEL_NAMES.transferProgress);

/** What a transfer helper hands over: its command (its id is known once it runs) and its progress. */
interface PublishedTransfer {
  readonly command: { readonly commandId: string | undefined };
  readonly progress$: Observable<{ readonly bytes: number }>;
  readonly result: Promise<{ readonly bytes: number }>;
}

/**
 * Publishes a transfer's progress and, once it settles, its total (`done`). Called by the transfer
 * helpers only when `transferProgressChannel.hasSubscribers`.
 */
export function publishTransferProgress(connection: Connection, direction: TransferProgressMessage['direction'], transfer: PublishedTransfer): void {
  const message = (bytes: number, done: boolean): TransferProgressMessage | undefined => {
    const commandId = transfer.command.commandId;
    return commandId === undefined ? undefined : { commandId, worker: connection.name, connection, direction, bytes, done };
  };
  const progress = transfer.progress$.subscribe(({ bytes }) => {
    const published = message(bytes, false);
    if (published !== undefined) transferProgressChannel.publish(published);
  });
  transfer.result.then(
    ({ bytes }) => {
      progress.unsubscribe();
      const published = message(bytes, true);
      if (published !== undefined) transferProgressChannel.publish(published);
    },
    // A transfer that never started moved nothing; its caller handles the rejection.
    () => progress.unsubscribe(),
  );
}
