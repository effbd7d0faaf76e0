/**
 * The Connection contract's factory for msgpack: a real {@link MsgpackListener} on loopback and,
 * at the other end of a real WebSocket (Basic auth and all), a scripted worker speaking
 * `msgpack_experimental_v7` frames the way a 3.7 worker does. Master → worker ops are served by the
 * ScriptedWorker; the worker's calls go out as msgpack requests.
 *
 * The one thing the script cannot answer is the master's own builder-directory commands (a
 * `start_command` without `builder_name`): this end emulates them on a tiny in-memory basedir,
 * like a stock worker's listdir/stat/rmdir/mkdir, and records them for the contract.
 */
import { filter, firstValueFrom } from 'rxjs';
import { WebSocket } from 'ws';
import { pino } from 'pino';
import { DEFAULT_WORKER_SETTINGS } from '../../actors/master/base-connection.js';
import type { MasterOps } from '../../actors/master/connection-api.js';
import { basicAuthHeader } from '../../actors/master/msgpack/basic-auth.js';
import type { MsgpackConnection } from '../../actors/master/msgpack/connection.js';
import { MsgpackRemoteError } from '../../actors/master/msgpack/errors.js';
import { MsgpackListener, type MsgpackListenerOptions } from '../../actors/master/msgpack/listener.js';
import { MsgpackPeer } from '../../actors/master/msgpack/peer.js';
import { UnknownCommandIdError } from '../../codec/protocols/worker-errors.js';
import type { ConnectionFactory } from '../contract/connection-contract.js';
import type { ScriptedWorker } from '../contract/scripted-worker.js';

export const quietLogger = pino({ level: process.env.AMPSTATE_LOG_LEVEL ?? 'silent' });

/** Over msgpack only an error's text crosses; the ones the contract checks by class are mapped back. */
function typedError(error: unknown): unknown {
  if (error instanceof MsgpackRemoteError && /unknown "command_id"|no file (writer|reader) for command id/.test(error.remoteMessage)) {
    return new UnknownCommandIdError(error.remoteMessage, { cause: error });
  }
  return error;
}

/** The master's op set as a msgpack worker reaches it. */
export function msgpackMasterOps(peer: MsgpackPeer): MasterOps {
  const call = async (op: string, fields: Record<string, unknown>) => {
    try {
      return await peer.request(op, fields);
    } catch (error) {
      throw typedError(error);
    }
  };
  return {
    update: async (commandId, updates) => void (await call('update', { command_id: commandId, args: updates })),
    complete: async (commandId, failure) => void (await call('complete', { command_id: commandId, args: failure ?? null })),
    uploadWrite: async (commandId, data) => void (await call('update_upload_file_write', { command_id: commandId, args: data })),
    uploadUtime: async (commandId, accessTime, modifiedTime) =>
      void (await call('update_upload_file_utime', { command_id: commandId, access_time: accessTime, modified_time: modifiedTime })),
    uploadUnpack: async (commandId) => void (await call('update_upload_directory_unpack', { command_id: commandId })),
    uploadClose: async (commandId) => void (await call('update_upload_file_close', { command_id: commandId })),
    downloadRead: async (commandId, length) => {
      const block = await call('update_read_file', { command_id: commandId, length });
      if (!Buffer.isBuffer(block)) throw new TypeError(`update_read_file answered ${typeof block}, not bin`);
      return block;
    },
    downloadClose: async (commandId) => void (await call('update_read_file_close', { command_id: commandId })),
  };
}

export interface ScriptedMsgpackWorker {
  readonly peer: MsgpackPeer;
  readonly socket: WebSocket;
  readonly master: MasterOps;
  /** The master's builder-directory commands, `[name, args]` in arrival order. */
  readonly dirCommands: Array<readonly [string, Readonly<Record<string, unknown>>]>;
}

/**
 * Connects a scripted worker to `port` with Basic auth; `basedirEntries` is what listdir of the
 * basedir shows at first. Resolves once the WebSocket is open (rejects on a refused upgrade).
 */
export async function connectScriptedWorker(
  port: number,
  script: ScriptedWorker,
  credentials: { username: string; password: string } = { username: 'w1', password: 'sekrit' },
  basedirEntries: string[] = ['info'],
): Promise<ScriptedMsgpackWorker> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}`, { headers: { Authorization: basicAuthHeader(credentials.username, credentials.password) } });
  const peer = new MsgpackPeer(socket, { logger: quietLogger });
  const entries = new Set(basedirEntries);
  const dirCommands: Array<readonly [string, Readonly<Record<string, unknown>>]> = [];
  const master = msgpackMasterOps(peer);
  const basedir = () => String(script.info.basedir);

  /** The worker side of one builder-dir command: its updates, then complete, as a stock worker sends them. */
  const emulate = (commandId: string, name: string, args: Record<string, unknown>) => {
    dirCommands.push([name, args]);
    let updates: Array<[string, unknown]> = [['rc', 0]];
    const names = (paths: unknown) => (Array.isArray(paths) ? paths.map((path) => String(path).slice(basedir().length + 1)) : []);
    if (name === 'listdir') updates = [['files', [...entries]], ['rc', 0]];
    else if (name === 'mkdir') for (const entry of names(args.paths)) entries.add(entry);
    else if (name === 'rmdir') for (const entry of names(args.paths)) entries.delete(entry);
    else if (name === 'stat') updates = [['stat', [0o040755, 0, 0, 1, 0, 0, 4096, 0, 0, 0]], ['rc', 0]];
    setImmediate(() => {
      void master
        .update(commandId, updates)
        .then(() => master.complete(commandId, undefined))
        .catch(() => undefined);
    });
  };

  peer
    .handle('print', (request) => script.print(String(request.message)))
    .handle('keepalive', () => script.keepalive())
    .handle('get_worker_info', () => script.getWorkerInfo())
    .handle('set_worker_settings', (request) => {
      const args = request.args as Record<string, unknown>;
      return script.setWorkerSettings({
        bufferSize: Number(args.buffer_size),
        bufferTimeout: Number(args.buffer_timeout),
        newlineRe: String(args.newline_re),
        maxLineLength: Number(args.max_line_length),
      });
    })
    .handle('start_command', async (request) => {
      const commandId = String(request.command_id);
      const name = String(request.command_name);
      const args = request.args as Record<string, unknown>;
      if (request.builder_name === undefined) return emulate(commandId, name, args);
      return script.startCommand(String(request.builder_name), commandId, name, args);
    })
    .handle('interrupt_command', (request) => script.interruptCommand(String(request.builder_name), String(request.command_id), String(request.why)))
    .handle('shutdown', () => script.shutdown());

  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    socket.once('error', reject);
  });
  return { peer, socket, master, dirCommands };
}

export function contractMsgpackListener(options: MsgpackListenerOptions): MsgpackListener {
  return new MsgpackListener({ logger: quietLogger, workerSettings: DEFAULT_WORKER_SETTINGS, ...options });
}

export function nextAttached(listener: MsgpackListener, name = 'w1'): Promise<MsgpackConnection> {
  return firstValueFrom(listener.workers$.pipe(filter((event) => event.type === 'attached' && event.name === name))).then(
    (event) => (event as { connection: MsgpackConnection }).connection,
  );
}

export const msgpackFactory: ConnectionFactory = async (script, options) => {
  const listener = contractMsgpackListener({
    registrations: { w1: { password: 'sekrit', builders: options.builders } },
    keepaliveIntervalMs: options.keepaliveIntervalMs ?? 0,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs,
  });
  const { port } = await listener.start();
  const attached = nextAttached(listener);
  const worker = await connectScriptedWorker(port, script);
  const connection = await attached;
  return {
    connection,
    worker: {
      script,
      master: worker.master,
      disconnect: () => worker.socket.terminate(),
      gone: worker.peer.closed.then(() => undefined),
    },
    builderDirCommands: () => worker.dirCommands,
    cleanup: async () => {
      worker.socket.terminate();
      await listener.stop();
    },
  };
};
