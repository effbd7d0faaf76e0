/**
 * The two transports the contract runs on today: AMP (a Listener serving one end of an in-memory
 * duplex pair, a scripted worker on the other end speaking real AMP boxes) and InMemoryConnection.
 */
import { filter, firstValueFrom } from 'rxjs';
import { AmpConnection } from '../../actors/amp-connection.js';
import { InMemoryConnection } from '../../actors/master/in-memory-connection.js';
import { Listener, type ListenerOptions } from '../../actors/master/listener.js';
import type { MasterConnection } from '../../actors/master/master-connection.js';
import type { MasterOps, WorkerOps } from '../../actors/master/connection-api.js';
import { createMemoryPair } from '../../actors/memory-pair.js';
import { ResponderTable } from '../../actors/responders.js';
import {
  Complete,
  DownloadClose,
  DownloadRead,
  GetWorkerInfo,
  InterruptCommand,
  Keepalive,
  Login,
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
import type { ConnectionFactory, ContractOptions } from './connection-contract.js';
import type { ScriptedWorker } from './scripted-worker.js';

/** The worker's responders: every master → worker command served by `script`. */
export function workerResponders(script: WorkerOps): ResponderTable {
  return new ResponderTable()
    .on(Print, async ({ message }) => (await script.print(message), {}))
    .on(Keepalive, async () => (await script.keepalive(), {}))
    .on(GetWorkerInfo, async () => ({ info: await script.getWorkerInfo() }))
    .on(SetWorkerSettings, async (settings) => (await script.setWorkerSettings(settings), {}))
    .on(SetBuilderList, async ({ builders }) => ({ builders: await script.setBuilderList(builders) }))
    .on(StartCommand, async ({ builderName, commandId, commandName, args }) => (await script.startCommand(builderName, commandId, commandName, args), {}))
    .on(InterruptCommand, async ({ builderName, commandId, why }) => (await script.interruptCommand(builderName, commandId, why), {}))
    .on(Shutdown, async () => (await script.shutdown(), {}));
}

/** The master's op set as the worker reaches it over AMP. */
export function ampMasterOps(amp: AmpConnection): MasterOps {
  return {
    update: async (commandId, updates) => void (await amp.callRemote(Update, { commandId, updates: [...updates] })),
    complete: async (commandId, failure) => void (await amp.callRemote(Complete, failure === undefined ? { commandId } : { commandId, failure })),
    uploadWrite: async (commandId, data) => void (await amp.callRemote(UploadWrite, { commandId, data })),
    uploadUtime: async (commandId, accessTime, modifiedTime) => void (await amp.callRemote(UploadUtime, { commandId, accessTime, modifiedTime })),
    uploadUnpack: async (commandId) => void (await amp.callRemote(UploadUnpack, { commandId })),
    uploadClose: async (commandId) => void (await amp.callRemote(UploadClose, { commandId })),
    downloadRead: async (commandId, length) => (await amp.callRemote(DownloadRead, { commandId, length })).data,
    downloadClose: async (commandId) => void (await amp.callRemote(DownloadClose, { commandId })),
  };
}

export interface AmpWorker {
  readonly amp: AmpConnection;
  readonly master: MasterOps;
}

/** A worker end on a fresh memory pair whose other end the listener serves. */
export function ampWorkerOn(listener: Listener, script: ScriptedWorker): AmpWorker {
  const [workerEnd, masterEnd] = createMemoryPair();
  listener.accept(masterEnd);
  const amp = new AmpConnection(workerEnd, { role: 'client', responders: workerResponders(script) });
  return { amp, master: ampMasterOps(amp) };
}

export function attachedEvent(listener: Listener, name: string): Promise<MasterConnection> {
  return firstValueFrom(
    listener.workers$.pipe(filter((event) => event.type === 'attached' && event.name === name)),
  ).then((event) => (event as { connection: MasterConnection }).connection);
}

export function contractListener(options: ContractOptions, extra: ListenerOptions = {}): Listener {
  return new Listener({
    registrations: { w1: { password: 'sekrit', builders: options.builders } },
    keepaliveIntervalMs: options.keepaliveIntervalMs ?? 0,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs,
    loginTimeoutMs: 0,
    ...extra,
  });
}

export const ampFactory: ConnectionFactory = async (script, options) => {
  const listener = contractListener(options);
  const attached = attachedEvent(listener, 'w1');
  const { amp, master } = ampWorkerOn(listener, script);
  await amp.callRemote(Login, { username: 'w1', password: 'sekrit', transferWindow: 4 });
  const connection = await attached;
  return {
    connection,
    worker: { script, master, disconnect: () => amp.abort(), gone: amp.closed.then(() => undefined) },
    cleanup: () => listener.stop(),
  };
};

export const inMemoryFactory: ConnectionFactory = async (script, options) => {
  let markGone!: () => void;
  const gone = new Promise<void>((resolve) => (markGone = resolve));
  const connection = new InMemoryConnection(script, {
    name: 'w1',
    builders: options.builders,
    keepaliveIntervalMs: options.keepaliveIntervalMs ?? 0,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs,
    onDisconnect: () => markGone(),
  });
  await connection.attach();
  return {
    connection,
    worker: { script, master: connection.master, disconnect: () => connection.disconnect(), gone },
    cleanup: async () => {
      connection.loseConnection();
      await connection.detached;
    },
  };
};
