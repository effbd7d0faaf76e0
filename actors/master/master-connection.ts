/**
 * The AMP Connection: one authenticated worker on an {@link AmpConnection} (docs/master-worker-protocol.md §6). Master →
 * worker ops are typed calls; the worker's callbacks arrive as responders keyed by command id and
 * are routed by {@link BaseConnection}. The Listener creates it once Login succeeded.
 */
import type { AmpConnection } from '../amp-connection.js';
import type { ResponderTable } from '../responders.js';
import {
  Complete,
  DownloadClose,
  DownloadRead,
  GetWorkerInfo,
  InterruptCommand,
  Keepalive,
  MAX_BLOCK_SIZE,
  Print,
  SetBuilderList,
  SetWorkerSettings,
  Shutdown,
  StartCommand,
  Update,
  UploadClose,
  UploadUnpack,
  UploadUtime,
  UploadWrite,
} from '../../codec/protocols/worker-commands.js';
import { TransferError, UnknownCommandIdError } from '../../codec/protocols/worker-errors.js';
import { BaseConnection, type BaseConnectionOptions } from './base-connection.js';
import type { WorkerOps } from './connection-api.js';

export interface MasterConnectionOptions extends BaseConnectionOptions {
  /** The transfer window agreed at login (1 = Buildbot's stop-and-wait). */
  readonly transferWindow?: number;
}

/** Errors a transfer responder may send: ours keep their message, under the declared code. */
function asTransferError(error: unknown): Error {
  if (error instanceof UnknownCommandIdError || error instanceof TransferError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const wrapped = new TransferError(message);
  wrapped.cause = error;
  return wrapped;
}

export class MasterConnection extends BaseConnection {
  readonly amp: AmpConnection;
  readonly transferWindow: number;
  protected readonly worker: WorkerOps;

  constructor(amp: AmpConnection, options: MasterConnectionOptions) {
    super({ ...options, logger: options.logger ?? amp.logger });
    this.amp = amp;
    this.transferWindow = options.transferWindow ?? 1;
    this.worker = {
      print: async (message) => void (await amp.callRemote(Print, { message })),
      keepalive: async () => void (await amp.callRemote(Keepalive, {})),
      getWorkerInfo: async () => (await amp.callRemote(GetWorkerInfo, {})).info,
      setWorkerSettings: async (settings) => void (await amp.callRemote(SetWorkerSettings, settings)),
      setBuilderList: async (builders) =>
        (await amp.callRemote(SetBuilderList, { builders: builders.map(([name, dir]) => [name, dir] as [string, string]) })).builders,
      startCommand: async (builderName, commandId, commandName, args) =>
        void (await amp.callRemote(StartCommand, { builderName, commandId, commandName, args })),
      interruptCommand: async (builderName, commandId, why) => void (await amp.callRemote(InterruptCommand, { builderName, commandId, why })),
      shutdown: async () => void (await amp.callRemote(Shutdown, {})),
    };
    this.installResponders(amp.responders);
    void amp.closed.then((reason) => this.transportClosed(reason));
  }

  protected abortTransport(reason: Error): void {
    this.amp.abort(reason);
  }

  /** Replaces the Listener's "not authenticated" answers with the real ones. */
  private installResponders(table: ResponderTable): void {
    table
      .on(Update, async ({ commandId, updates }) => {
        await this.update(commandId, updates);
        return {};
      })
      .on(Complete, async ({ commandId, failure }) => {
        await this.complete(commandId, failure);
        return {};
      })
      .on(UploadWrite, ({ commandId, data }, { box }) => this.transfer(() => this.uploadWrite(commandId, data, box)))
      .on(UploadUtime, ({ commandId, accessTime, modifiedTime }) => this.transfer(() => this.uploadUtime(commandId, accessTime, modifiedTime)))
      .on(UploadUnpack, ({ commandId }) => this.transfer(() => this.uploadUnpack(commandId)))
      .on(UploadClose, ({ commandId }) => this.transfer(() => this.uploadClose(commandId)))
      .on(DownloadRead, async ({ commandId, length }) => {
        try {
          // Never more than fits in one AMP value, whatever the worker asked for.
          return { data: await this.downloadRead(commandId, Math.min(length, MAX_BLOCK_SIZE)) };
        } catch (error) {
          throw asTransferError(error);
        }
      })
      .on(DownloadClose, ({ commandId }) => this.transfer(() => this.downloadClose(commandId)));
  }

  private async transfer(work: () => Promise<void>): Promise<Record<string, never>> {
    try {
      await work();
      return {};
    } catch (error) {
      throw asTransferError(error);
    }
  }
}
