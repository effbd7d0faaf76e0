/**
 * The contract every master-side Connection must pass (Buildbot's ConnectionInterfaceTest, taken
 * further: not only the signatures but the behaviour the master relies on). Each transport runs it
 * with a factory that yields an attached Connection plus the scripted worker at its other end.
 *
 * Used by `amp-connection.test.ts` and `in-memory-connection.test.ts`; the msgpack Connection
 * (test/buildbot/msgpack-contract.test.ts) adds its own factory.
 */
import { describe, expect, it } from 'vitest';
import { CommandRejectedError, UnknownCommandIdError } from '../../codec/protocols/worker-errors.js';
import {
  CONNECTION_METHODS,
  FileReaderImpl,
  FileWriterImpl,
  RemoteCommandImpl,
  type BuilderList,
  type Connection,
  type UpdateEntry,
} from '../../actors/master/connection-api.js';
import { DEFAULT_WORKER_SETTINGS } from '../../actors/master/base-connection.js';
import { KeepaliveTimeoutError, UnknownBuilderError } from '../../actors/master/errors.js';
import { FileReaderProxy, FileWriterProxy } from '../../actors/master/proxies.js';
import { ScriptedWorker, type WorkerEnd } from './scripted-worker.js';

export interface ContractOptions {
  readonly builders?: BuilderList;
  readonly keepaliveIntervalMs?: number;
  readonly keepaliveTimeoutMs?: number;
}

export interface ConnectedPair {
  /** Attached: the handshake has finished. */
  readonly connection: Connection;
  readonly worker: WorkerEnd;
  cleanup(): Promise<void>;
  /**
   * Only for transports where the master makes the builder directories itself with ordinary
   * worker commands instead of a setBuilderList op (msgpack: a stock worker has no builders): the
   * `[commandName, args]` of each such command so far, in order.
   */
  readonly builderDirCommands?: () => ReadonlyArray<readonly [string, Readonly<Record<string, unknown>>]>;
}

export type ConnectionFactory = (script: ScriptedWorker, options: ContractOptions) => Promise<ConnectedPair>;

const BUILDERS: BuilderList = [
  ['linux', 'linux-build'],
  ['docs', 'docs-build'],
];

/** Records every call; `complete` resolves `done`. */
export class RecordingCommand extends RemoteCommandImpl {
  readonly updates: UpdateEntry[] = [];
  failure: string | undefined | null = null;
  private resolveDone!: () => void;
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  remoteUpdate(updates: readonly UpdateEntry[]): void {
    this.updates.push(...updates);
  }

  remoteComplete(failure: string | undefined): void {
    this.failure = failure;
    this.resolveDone();
  }
}

/** Records the order calls reach it and how many overlap; each call takes a little while. */
class RecordingWriter extends FileWriterImpl {
  readonly log: string[] = [];
  active = 0;
  maxActive = 0;

  private async step(entry: string, delayMs: number): Promise<void> {
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    this.log.push(entry);
    this.active -= 1;
  }

  remoteWrite(data: Buffer): Promise<void> {
    // Earlier blocks take longer: without serialisation they would finish out of order.
    return this.step(`write ${data.toString()}`, 10 - Number(data.toString().slice(1)) * 2);
  }

  remoteUtime(accessedModified: readonly [number, number]): Promise<void> {
    return this.step(`utime ${accessedModified.join(',')}`, 1);
  }

  remoteUnpack(): Promise<void> {
    return this.step('unpack', 1);
  }

  remoteClose(): Promise<void> {
    return this.step('close', 1);
  }
}

class CountingReader extends FileReaderImpl {
  private next = 0;
  active = 0;
  maxActive = 0;
  closed = false;

  async remoteRead(maxLength: number): Promise<Buffer> {
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    const index = this.next++;
    await new Promise((resolve) => setTimeout(resolve, 8 - index * 2));
    this.active -= 1;
    return Buffer.from(`r${index}:${maxLength}`);
  }

  async remoteClose(): Promise<void> {
    this.closed = true;
  }
}

function until(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (predicate()) resolve();
      else if (Date.now() - start > timeoutMs) reject(new Error('condition not reached in time'));
      else setTimeout(poll, 2);
    };
    poll();
  });
}

export function connectionContract(transport: string, factory: ConnectionFactory): void {
  describe(`Connection contract: ${transport}`, () => {
    async function connected(options: ContractOptions = {}, script = new ScriptedWorker()) {
      const pair = await factory(script, { builders: BUILDERS, ...options });
      return { ...pair, script };
    }

    it("has the seed's API with its arities", async () => {
      const { connection, cleanup } = await connected();
      try {
        for (const [member, arity] of Object.entries(CONNECTION_METHODS)) {
          const value = (connection as unknown as Record<string, unknown>)[member];
          if (arity === 'property') {
            expect(member in connection, member).toBe(true);
          } else {
            expect(typeof value, member).toBe('function');
            expect((value as (...args: unknown[]) => unknown).length, member).toBe(arity);
          }
        }
        expect(connection.name).toBe('w1');
      } finally {
        await cleanup();
      }
    });

    it('runs the handshake: print attached, worker info, settings, builders, one print per builder', async () => {
      const { connection, script, cleanup, builderDirCommands } = await connected();
      try {
        expect(connection.state).toBe('attached');
        if (builderDirCommands === undefined) {
          expect(script.calls.map((call) => call.op)).toEqual([
            'print',
            'getWorkerInfo',
            'setWorkerSettings',
            'setBuilderList',
            'print',
            'print',
          ]);
        } else {
          // The worker's basedir already holds info/: only the builder dirs are made.
          expect(script.calls.map((call) => call.op)).toEqual(['print', 'getWorkerInfo', 'setWorkerSettings', 'print', 'print']);
          expect(builderDirCommands()).toEqual([
            ['listdir', { path: '/srv/worker' }],
            ['mkdir', { paths: ['/srv/worker/docs-build', '/srv/worker/linux-build'] }],
          ]);
        }
        expect(script.callsOf('print').map((call) => call.args[0])).toEqual(['attached', 'attached', 'attached']);
        expect(script.callsOf('setWorkerSettings')[0]?.args[0]).toEqual(DEFAULT_WORKER_SETTINGS);
        expect(connection.info).toEqual(script.info);
      } finally {
        await cleanup();
      }
    });

    it('remotePrint, remoteGetWorkerInfo and a builder list that is skipped when unchanged', async () => {
      const { connection, script, cleanup, builderDirCommands } = await connected();
      try {
        await connection.remotePrint('hello worker');
        expect(script.calls.at(-1)).toEqual({ op: 'print', args: ['hello worker'] });
        script.info = { ...script.info, numcpus: 8 };
        await expect(connection.remoteGetWorkerInfo()).resolves.toMatchObject({ numcpus: 8 });
        expect(connection.info).toMatchObject({ numcpus: 8 });

        if (builderDirCommands !== undefined) {
          // The master makes the dirs: every builder is present once its dir exists.
          const made = builderDirCommands().length;
          await expect(connection.remoteSetBuilderList(BUILDERS)).resolves.toEqual(['linux', 'docs']);
          expect(builderDirCommands()).toHaveLength(made);
          await expect(connection.remoteSetBuilderList([['linux', 'l2']])).resolves.toEqual(['linux']);
          expect(builderDirCommands().slice(made)).toEqual([
            ['listdir', { path: '/srv/worker' }],
            ['mkdir', { paths: ['/srv/worker/l2'] }],
          ]);
          return;
        }
        const before = script.callsOf('setBuilderList').length;
        await expect(connection.remoteSetBuilderList(BUILDERS)).resolves.toEqual(['linux', 'docs']);
        expect(script.callsOf('setBuilderList')).toHaveLength(before);
        script.handlers.setBuilderList = async () => ['linux'];
        await expect(connection.remoteSetBuilderList([['linux', 'l2']])).resolves.toEqual(['linux']);
        expect(script.callsOf('setBuilderList')).toHaveLength(before + 1);
        expect(script.calls.at(-1)?.args[0]).toEqual([['linux', 'l2']]);
      } finally {
        await cleanup();
      }
    });

    it('starts commands with canonical args and routes updates and complete by command id', async () => {
      const { connection, worker, script, cleanup } = await connected();
      try {
        const shell = new RecordingCommand();
        const mkdir = new RecordingCommand();
        await connection.remoteStartCommand(shell, 'linux', '11', 'shell', { workdir: 'src', command: ['make'], env: { A: 'b' } });
        await connection.remoteStartCommand(mkdir, 'docs', '12', 'mkdir', { dir: 'out' });
        expect(script.callsOf('startCommand').map((call) => call.args)).toEqual([
          ['linux', '11', 'shell', { workdir: '/srv/worker/linux-build/src', command: ['make'], env: { A: 'b' } }],
          ['docs', '12', 'mkdir', { paths: ['/srv/worker/docs-build/out'] }],
        ]);

        await worker.master.update('12', [['rc', 0]]);
        await worker.master.update('11', [
          ['header', 'make\n'],
          ['stdout', 'built\n'],
          ['rc', 0],
        ]);
        // Output after rc is still accepted until complete.
        await worker.master.update('11', [['stdout', 'late\n'], ['log', ['config.log', 'x\n']], ['custom', { a: 1 }]]);
        await worker.master.complete('11', undefined);
        await worker.master.complete('12', 'Traceback: boom');
        await shell.done;
        expect(shell.updates).toEqual([
          ['header', 'make\n'],
          ['stdout', 'built\n'],
          ['rc', 0],
          ['stdout', 'late\n'],
          ['log', ['config.log', 'x\n']],
          ['custom', { a: 1 }],
        ]);
        expect(shell.failure).toBeUndefined();
        expect(mkdir.updates).toEqual([['rc', 0]]);
        expect(mkdir.failure).toBe('Traceback: boom');
        // The id is freed by complete.
        await expect(worker.master.update('11', [['stdout', 'too late\n']])).rejects.toBeInstanceOf(UnknownCommandIdError);
        await expect(worker.master.complete('99', undefined)).rejects.toBeInstanceOf(UnknownCommandIdError);
      } finally {
        await cleanup();
      }
    });

    it('renames transfer commands and replaces Impls by id-keyed proxies that never go on the wire', async () => {
      const { connection, script, cleanup } = await connected();
      try {
        const writer = new RecordingWriter();
        const proxied = connection.createArgsProxies({ writer, blocksize: 16 });
        expect(proxied.writer).toBeInstanceOf(FileWriterProxy);
        expect(proxied.blocksize).toBe(16);
        const reader = new CountingReader();
        expect(connection.createArgsProxies({ reader }).reader).toBeInstanceOf(FileReaderProxy);
        expect([...connection.proxies.keys()]).toEqual(expect.arrayContaining([FileWriterImpl, FileReaderImpl]));

        await connection.remoteStartCommand(new RecordingCommand(), 'linux', '21', 'uploadFile', {
          workdir: 'build',
          workersrc: '~/out.tgz',
          writer,
          blocksize: 16,
          maxsize: null,
          keepstamp: true,
        });
        const [builderName, commandId, commandName, args] = script.callsOf('startCommand')[0]!.args;
        expect([builderName, commandId, commandName]).toEqual(['linux', '21', 'upload_file']);
        expect(args).toEqual({ path: '/home/worker/out.tgz', blocksize: 16, maxsize: null, keepstamp: true });
      } finally {
        await cleanup();
      }
    });

    it('delivers pipelined writes to the FileWriter strictly in order, one at a time', async () => {
      const { connection, worker, cleanup } = await connected();
      try {
        const writer = new RecordingWriter();
        const command = new RecordingCommand();
        await connection.remoteStartCommand(command, 'linux', '31', 'uploadFile', { workersrc: 'a', writer, blocksize: 4 });
        // A window of four writes in flight, then close and utime, without waiting in between.
        const calls = [0, 1, 2, 3].map((index) => worker.master.uploadWrite('31', Buffer.from(`b${index}`)));
        calls.push(worker.master.uploadClose('31'), worker.master.uploadUtime('31', 1, 2));
        await Promise.all(calls);
        expect(writer.log).toEqual(['write b0', 'write b1', 'write b2', 'write b3', 'close', 'utime 1,2']);
        expect(writer.maxActive).toBe(1);
        await expect(worker.master.uploadWrite('nope', Buffer.from('x'))).rejects.toBeInstanceOf(UnknownCommandIdError);
      } finally {
        await cleanup();
      }
    });

    it('serves pipelined reads in request order', async () => {
      const { connection, worker, cleanup } = await connected();
      try {
        const reader = new CountingReader();
        await connection.remoteStartCommand(new RecordingCommand(), 'linux', '41', 'downloadFile', { workerdest: 'x', reader, blocksize: 8 });
        const blocks = await Promise.all([0, 1, 2].map((index) => worker.master.downloadRead('41', 10 + index)));
        expect(blocks.map((block) => block.toString())).toEqual(['r0:10', 'r1:11', 'r2:12']);
        expect(reader.maxActive).toBe(1);
        await worker.master.downloadClose('41');
        expect(reader.closed).toBe(true);
      } finally {
        await cleanup();
      }
    });

    it("rejects a refused start with the worker's error and frees the id", async () => {
      const { connection, worker, script, cleanup } = await connected();
      try {
        script.handlers.startCommand = async (_builder, _id, name) => {
          throw new CommandRejectedError(`unrecognized WorkerCommand '${name}'`);
        };
        const error = await connection.remoteStartCommand(new RecordingCommand(), 'linux', '51', 'nope', {}).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(CommandRejectedError);
        expect((error as Error).message).toContain("unrecognized WorkerCommand 'nope'");
        await expect(worker.master.update('51', [['rc', 1]])).rejects.toBeInstanceOf(UnknownCommandIdError);
        // An unknown builder is refused before anything is sent.
        const starts = script.callsOf('startCommand').length;
        await expect(connection.remoteStartCommand(new RecordingCommand(), 'windows', '52', 'shell', {})).rejects.toBeInstanceOf(
          UnknownBuilderError,
        );
        expect(script.callsOf('startCommand')).toHaveLength(starts);
      } finally {
        await cleanup();
      }
    });

    it('interrupts, starts builds without a word, and shuts the worker down', async () => {
      const { connection, worker, script, cleanup } = await connected();
      try {
        await connection.remoteInterruptCommand('linux', '61', 'stop it');
        expect(script.calls.at(-1)).toEqual({ op: 'interruptCommand', args: ['linux', '61', 'stop it'] });
        const count = script.calls.length;
        await connection.remoteStartBuild('linux');
        expect(script.calls).toHaveLength(count);
        // The worker exits while answering: still a success.
        script.handlers.shutdown = () => {
          worker.disconnect();
          return new Promise(() => undefined);
        };
        await expect(connection.remoteShutdown()).resolves.toBeUndefined();
        expect(script.calls.at(-1)?.op).toBe('shutdown');
      } finally {
        await cleanup();
      }
    });

    it('loseConnection: notifies subscribers once, skips unsubscribed ones, fails pending and later calls', async () => {
      const { connection, worker, script, cleanup } = await connected();
      try {
        const seen: Error[] = [];
        connection.notifyOnDisconnect((reason) => seen.push(reason));
        const dropped = connection.notifyOnDisconnect(() => seen.push(new Error('must not fire')));
        dropped.unsubscribe();
        script.handlers.print = () => new Promise(() => undefined);
        const pending = connection.remotePrint('never answered');
        connection.loseConnection();
        connection.loseConnection();
        await expect(pending).rejects.toBeInstanceOf(Error);
        await worker.gone;
        await until(() => connection.state === 'detached');
        expect(seen).toHaveLength(1);
        await expect(connection.remotePrint('after')).rejects.toBeInstanceOf(Error);
        // A late subscriber is told at once rather than never.
        const late = await new Promise<Error>((resolve) => connection.notifyOnDisconnect(resolve));
        expect(late).toBe(seen[0]);
      } finally {
        await cleanup();
      }
    });

    it("a worker-side drop detaches the connection and the worker's calls stop working", async () => {
      const { connection, worker, cleanup } = await connected();
      try {
        const command = new RecordingCommand();
        await connection.remoteStartCommand(command, 'linux', '71', 'shell', { command: 'sleep 10' });
        const reason = new Promise<Error>((resolve) => connection.notifyOnDisconnect(resolve));
        worker.disconnect();
        await expect(reason).resolves.toBeInstanceOf(Error);
        expect(connection.state).toBe('detached');
        await expect(worker.master.update('71', [['rc', 0]])).rejects.toBeInstanceOf(Error);
        expect(command.updates).toEqual([]);
      } finally {
        await cleanup();
      }
    });

    it('drops a worker that misses the keepalive deadline, and keeps one that answers', async () => {
      const alive = await connected({ keepaliveIntervalMs: 15, keepaliveTimeoutMs: 40 });
      const silent = await connected({ keepaliveIntervalMs: 15, keepaliveTimeoutMs: 40 });
      try {
        silent.script.handlers.keepalive = () => new Promise(() => undefined);
        const reason = await new Promise<Error>((resolve) => silent.connection.notifyOnDisconnect(resolve));
        expect(reason).toBeInstanceOf(KeepaliveTimeoutError);
        expect(silent.connection.state).toBe('detached');
        await silent.worker.gone;
        expect(alive.connection.state).toBe('attached');
        expect(alive.script.callsOf('keepalive').length).toBeGreaterThan(1);
      } finally {
        await alive.cleanup();
        await silent.cleanup();
      }
    });
  });
}
