/**
 * msgpack_experimental_v7 on the wire, message by message (docs/master-worker-protocol.md §1.1, §4, §5): what the master's
 * MsgpackListener and MsgpackConnection send and answer, asserted against a hand-driven worker, in
 * the manner of Buildbot's test_protocols_msgpack / test_protocols_manager_msgmanager.
 */
import { decode } from '@msgpack/msgpack';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { FileReaderImpl } from '../../actors/master/connection-api.js';
import { KeepaliveTimeoutError, WorkerDisconnectedError } from '../../actors/master/errors.js';
import { MsgpackListener, MSGPACK_WORKER_SETTINGS, type MsgpackListenerOptions, type MsgpackRegistryEvent } from '../../actors/master/msgpack/listener.js';
import { parseBasicAuth } from '../../actors/master/msgpack/basic-auth.js';
import { RemoteCommand } from '../../actors/master/remote-command.js';
import { CANCELLED, EXCEPTION, RETRY, SUCCESS } from '../../actors/master/results.js';
import { CommandRejectedError } from '../../codec/protocols/worker-errors.js';
import { CollectingWriter } from '../support/collecting-writer.js';
import { quietLogger } from './msgpack-harness.js';
import { RawWorker, defaultInfo, serveHandshake, upgradeStatus } from './raw-worker.js';

const listeners: MsgpackListener[] = [];
const workers: RawWorker[] = [];
afterEach(async () => {
  for (const worker of workers.splice(0)) worker.terminate();
  for (const listener of listeners.splice(0)) await listener.stop();
});

async function startListener(options: MsgpackListenerOptions = {}): Promise<{ listener: MsgpackListener; port: number }> {
  const listener = new MsgpackListener({
    registrations: { w1: { password: 'pw', builders: [['b1', 'b1dir']] } },
    keepaliveIntervalMs: 0,
    logger: quietLogger,
    ...options,
  });
  listeners.push(listener);
  const { port } = await listener.start();
  return { listener, port };
}

async function connect(port: number, options: Parameters<typeof RawWorker.connect>[1] = {}): Promise<RawWorker> {
  const worker = await RawWorker.connect(port, options);
  workers.push(worker);
  return worker;
}

function event<T extends MsgpackRegistryEvent['type']>(listener: MsgpackListener, type: T): Promise<Extract<MsgpackRegistryEvent, { type: T }>> {
  return firstValueFrom(listener.workers$.pipe(filter((candidate) => candidate.type === type))) as Promise<Extract<MsgpackRegistryEvent, { type: T }>>;
}

async function attachedWorker(options: MsgpackListenerOptions = {}) {
  const { listener, port } = await startListener(options);
  const attached = event(listener, 'attached');
  const worker = await connect(port);
  const handshake = await serveHandshake(worker, { entries: ['info', 'b1dir'] });
  const { connection } = await attached;
  return { listener, port, worker, connection, handshake };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('msgpack: authentication on the WebSocket upgrade', () => {
  it('answers 401 without credentials or with wrong ones, 400 for malformed ones, and reports each refusal', async () => {
    const { listener, port } = await startListener();
    const refusals = firstValueFrom(listener.refusals$.pipe(take(6), toArray()));
    const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;
    const missing = await upgradeStatus(port, undefined);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Basic realm="buildbot"');
    expect((await upgradeStatus(port, 'Bearer abc')).status).toBe(400);
    expect((await upgradeStatus(port, 'Basic %%%')).status).toBe(400);
    expect((await upgradeStatus(port, basic('no colon here'))).status).toBe(400);
    expect((await upgradeStatus(port, basic('w1:wrong'))).status).toBe(401);
    expect((await upgradeStatus(port, basic('nobody:pw'))).status).toBe(401);
    expect((await refusals).map((refusal) => [refusal.reason, refusal.workerName])).toEqual([
      ['missing-credentials', undefined],
      ['malformed-credentials', undefined],
      ['malformed-credentials', undefined],
      ['malformed-credentials', undefined],
      ['bad-credentials', 'w1'],
      ['unknown-worker', 'nobody'],
    ]);
    // The right credentials switch protocols; a plain GET is told to upgrade.
    expect((await upgradeStatus(port, basic('w1:pw'))).status).toBe(101);
    expect((await upgradeStatus(port, undefined, false)).status).toBe(426);
    expect(listener.current.size).toBe(0);
  });

  it('parses Basic credentials as Buildbot does: the password may hold colons, the name cannot', () => {
    const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;
    expect(parseBasicAuth(basic('w1:a:b:c'))).toEqual({ kind: 'credentials', username: 'w1', password: 'a:b:c' });
    expect(parseBasicAuth(basic('w1:'))).toEqual({ kind: 'credentials', username: 'w1', password: '' });
    expect(parseBasicAuth(undefined)).toEqual({ kind: 'missing' });
    expect(parseBasicAuth('Basic ' + Buffer.from([0xff, 0x3a]).toString('base64')).kind).toBe('malformed');
  });

  it('updateRegistration and unregister take effect at run time', async () => {
    const { listener, port } = await startListener();
    const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;
    expect((await upgradeStatus(port, basic('w2:second'))).status).toBe(401);
    const registration = listener.updateRegistration('w2', 'second');
    expect((await upgradeStatus(port, basic('w2:second'))).status).toBe(101);
    registration.unregister();
    expect((await upgradeStatus(port, basic('w2:second'))).status).toBe(401);
  });
});

describe('msgpack: the handshake on the wire (docs/master-worker-protocol.md §1.1)', () => {
  it('print, get_worker_info, set_worker_settings, then listdir and mkdir of the missing dirs, then one print per builder', async () => {
    const { listener, port } = await startListener({ registrations: { w1: { password: 'pw', builders: [['b1', 'b1dir'], ['b2', 'nested/b2']] } } });
    const attached = event(listener, 'attached');
    const worker = await connect(port);
    const frames = await serveHandshake(worker, { entries: ['info', 'b1dir', 'twistd.log'], builders: 2 });
    const { connection } = await attached;
    expect(frames.map((frame) => frame.seq_number)).toEqual(frames.map((_, index) => index));
    expect(frames.map(({ seq_number: _seq, ...rest }) => rest)).toEqual([
      { op: 'print', message: 'attached' },
      { op: 'get_worker_info' },
      {
        op: 'set_worker_settings',
        args: {
          buffer_size: 65536,
          buffer_timeout: 5,
          newline_re: MSGPACK_WORKER_SETTINGS.newlineRe,
          max_line_length: 4096,
        },
      },
      // No builder_name: the command is the master's own.
      { op: 'start_command', command_id: expect.stringMatching(/^\d+$/), command_name: 'listdir', args: { path: '/srv/w' } },
      { op: 'start_command', command_id: expect.stringMatching(/^\d+$/), command_name: 'mkdir', args: { paths: ['/srv/w/nested/b2'] } },
      { op: 'print', message: 'attached' },
      { op: 'print', message: 'attached' },
    ]);
    expect(connection.info).toEqual(defaultInfo());
    expect(connection.state).toBe('attached');
    // Buildbot's newline pattern, as Python's re reads it.
    expect(MSGPACK_WORKER_SETTINGS.newlineRe).toBe('(\\r\\n|\\r(?=.)|\\x1b\\[u|\\x1b\\[[0-9]+;[0-9]+[Hf]|\\x1b\\[2J|\\x08+)');
  });

  it('delete_leftover_dirs: stats what no builder uses and removes only the directories', async () => {
    const { listener, port } = await startListener();
    const attached = event(listener, 'attached');
    const worker = await connect(port);
    const frames = await serveHandshake(worker, { info: defaultInfo('/srv/w', { delete_leftover_dirs: true }), entries: ['old-builder', 'notes.txt', 'info'] });
    await attached;
    const commands = frames.filter((frame) => frame.op === 'start_command').map((frame) => [frame.command_name, frame.args]);
    expect(commands).toEqual([
      ['listdir', { path: '/srv/w' }],
      ['stat', { path: '/srv/w/old-builder' }],
      ['stat', { path: '/srv/w/notes.txt' }],
      ['rmdir', { paths: ['/srv/w/old-builder'] }],
      ['mkdir', { paths: ['/srv/w/b1dir'] }],
    ]);
  });

  it('a builder-directory command that fails drops the worker instead of attaching it', async () => {
    const { listener, port } = await startListener();
    const worker = await connect(port);
    for (const expected of ['print', 'get_worker_info', 'set_worker_settings']) {
      const frame = await worker.next();
      expect(frame.op).toBe(expected);
      worker.reply(frame, expected === 'get_worker_info' ? defaultInfo() : null);
    }
    const listdir = await worker.next('start_command');
    worker.reply(listdir);
    await worker.finishCommand(String(listdir.command_id), [['header', 'listdir: Permission denied: /srv/w'], ['rc', 13]]);
    const closed = await worker.closed;
    expect(closed.code).toBe(1006);
    expect(listener.current.size).toBe(0);
  });
});

describe('msgpack: the envelope (docs/master-worker-protocol.md §5)', () => {
  it('answers unknown ops, drops frames without op or seq_number and text frames, and reports unknown command ids', async () => {
    const { worker } = await attachedWorker();
    // request() waits for the response echoing its own seq_number.
    expect(await worker.request('frobnicate')).toMatchObject({ op: 'response', result: 'Command frobnicate does not exist.', is_exception: true });
    worker.sendRaw({ op: 'update', command_id: '1', args: [] });
    worker.sendRaw({ seq_number: 77, command_id: '1' });
    worker.socket.send('{"op": "update", "seq_number": 78}');
    const unknown = await worker.request('update', { command_id: 'nope', args: [['rc', 0]] });
    expect(unknown).toMatchObject({ is_exception: true, result: expect.stringContaining('unknown "command_id"') });
    const missing = await worker.request('complete', { command_id: 'nope' });
    expect(missing).toMatchObject({ is_exception: true, result: 'message did not contain obligatory "args" key' });
    await sleep(50);
    // Nothing answered the dropped frames.
    expect(worker.pending()).toEqual([]);
  });

  it('routes triples to their text, accepts output after rc, and keeps log names', async () => {
    const { worker, connection } = await attachedWorker();
    const command = new RemoteCommand('shell', { command: 'make', workdir: 'build' }, { collectStdout: true, collectStderr: true });
    const result = command.run(connection, 'b1');
    const start = await worker.next('start_command');
    expect(start).toMatchObject({
      builder_name: 'b1',
      command_name: 'shell',
      command_id: command.commandId,
      args: { command: 'make', workdir: '/srv/w/b1dir/build' },
    });
    worker.reply(start);
    await worker.finishCommand(command.commandId!, [
      ['header', ['make\n', [4], [1.5]]],
      ['stdout', ['one\ntwo\n', [3, 7], [1.5, 1.6]]],
      ['log', ['config.log', ['checking\n', [8], [1.7]]]],
      ['rc', 0],
      ['elapsed', 0.25],
      ['stdout', ['late\n', [4], [1.8]]],
      ['stderr', 'plain text\n'],
    ]);
    const outcome = await result;
    expect([outcome.rc, outcome.results, outcome.stdout, outcome.stderr]).toEqual([0, SUCCESS, 'one\ntwo\nlate\n', 'plain text\n']);
    expect(outcome.updates).toEqual({ log: [['config.log', 'checking\n']], elapsed: [0.25] });
  });

  it('keeps str and bin apart: upload blocks must be bin, update_read_file is answered with bin', async () => {
    const { worker, connection } = await attachedWorker();
    const writer = new CollectingWriter();
    const written = writer.written;
    class Reader extends FileReaderImpl {
      private done = false;
      async remoteRead(maxLength: number) {
        if (this.done) return Buffer.alloc(0);
        this.done = true;
        return Buffer.from([0, 1, 2, 0xff, 0xfe].slice(0, maxLength));
      }
      async remoteClose() {}
    }
    const upload = new RemoteCommand('uploadFile', { workdir: 'build', workersrc: 'x', writer, blocksize: 4, maxsize: null, keepstamp: false });
    void upload.run(connection, 'b1');
    const start = await worker.next('start_command');
    expect(start).toMatchObject({ command_name: 'upload_file', args: { path: '/srv/w/b1dir/build/x', blocksize: 4, maxsize: null, keepstamp: false } });
    expect(start.args as object).not.toHaveProperty('writer');
    worker.reply(start);
    const id = upload.commandId!;
    expect(await worker.request('update_upload_file_write', { command_id: id, args: Buffer.from([0xde, 0xad]) })).toMatchObject({ result: null });
    expect(await worker.request('update_upload_file_write', { command_id: id, args: 'text' })).toMatchObject({
      is_exception: true,
      result: '"args" of update_upload_file_write must be msgpack bin, not string',
    });
    expect(written).toEqual([Buffer.from([0xde, 0xad])]);

    const download = new RemoteCommand('downloadFile', { workdir: 'build', workerdest: 'y', reader: new Reader(), blocksize: 16, maxsize: null, mode: null });
    void download.run(connection, 'b1');
    const started = await worker.next('start_command');
    worker.reply(started);
    // Decoded by hand: a bin value decodes to bytes, a str would decode to a string.
    const raw = await new Promise<Buffer>((resolve) => {
      worker.socket.once('message', (data: Buffer) => resolve(data));
      worker.sendRaw({ op: 'update_read_file', seq_number: 50, command_id: download.commandId, length: 3 });
    });
    const reply = decode(raw) as { seq_number: number; result: unknown };
    expect(reply.seq_number).toBe(50);
    expect(reply.result).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(reply.result as Uint8Array)).toEqual(Buffer.from([0, 1, 2]));
    worker.sendRaw({ op: 'update_read_file', seq_number: 51, command_id: download.commandId, length: 3 });
    const eof = await worker.responseTo(51);
    expect(Buffer.from(eof.result as Uint8Array)).toEqual(Buffer.alloc(0));
  });
});

describe('msgpack: duplicates, keepalive, disconnects, shutdown', () => {
  it('a newcomer is "not authenticated" while the old connection is pinged; a silent old one is replaced', async () => {
    const { listener, port, worker: old } = await attachedWorker({ duplicatePingTimeoutMs: 300 });
    const newcomer = await connect(port);
    const ping = await old.next('print');
    expect(ping.message).toBe('master got a duplicate connection');
    // The old one stays silent. Meanwhile the newcomer is told it is not authenticated, and sent nothing.
    expect(await newcomer.request('update', { command_id: '1', args: [] })).toMatchObject({ is_exception: true, result: 'Worker not authenticated.' });
    expect(newcomer.pending()).toEqual([]);
    const attached = event(listener, 'attached');
    const frames = await serveHandshake(newcomer, { entries: ['info', 'b1dir'] });
    expect(frames[0]).toMatchObject({ op: 'print', message: 'attached' });
    await attached;
    expect((await old.closed).code).toBe(1006);
  });

  it('an old connection that answers its ping wins; the newcomer is closed with 1008', async () => {
    const { listener, port, worker: old, connection } = await attachedWorker();
    const newcomer = await connect(port);
    const ping = await old.next('print');
    old.reply(ping);
    const closed = await newcomer.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toContain('already connected');
    expect(listener.current.get('w1')).toBe(connection);
  });

  it('the keepalive is the op and a WebSocket ping, both under the deadline', async () => {
    const { listener, port } = await startListener({ keepaliveIntervalMs: 40, keepaliveTimeoutMs: 150 });
    // This worker answers keepalive ops but never pongs.
    const attached = event(listener, 'attached');
    const deaf = await connect(port, { autoPong: false });
    await serveHandshake(deaf, { entries: ['info', 'b1dir'] });
    const { connection } = await attached;
    let gone = false;
    void deaf.closed.then(() => (gone = true));
    const answering = (async () => {
      while (!gone) deaf.reply(await deaf.next('keepalive', 1000));
    })().catch(() => undefined);
    const reason = await new Promise<Error>((resolve) => connection.notifyOnDisconnect(resolve));
    expect(reason).toBeInstanceOf(KeepaliveTimeoutError);
    expect(deaf.frames.some((frame) => frame.op === 'keepalive')).toBe(true);
    await answering;
  });

  it('a disconnect fails the running command at once; after the reconnect the master interrupts the orphan', async () => {
    const { listener, port, worker, connection } = await attachedWorker();
    const command = new RemoteCommand('shell', { command: 'sleep 100', workdir: 'build' });
    const result = command.run(connection, 'b1');
    worker.reply(await worker.next('start_command'));
    await sleep(20);
    worker.terminate();
    const outcome = await result;
    expect(outcome.results).toBe(RETRY);
    expect(outcome.failure).toBeInstanceOf(WorkerDisconnectedError);

    const again = await connect(port);
    const attached = event(listener, 'attached');
    await serveHandshake(again, { entries: ['info', 'b1dir'] });
    const reap = await again.next('interrupt_command');
    expect(reap).toMatchObject({ builder_name: 'b1', command_id: command.commandId, why: 'the master lost the connection while this command ran' });
    again.reply(reap);
    await attached;
  });

  it('remoteShutdown interrupts running commands first and sends shutdown once they completed', async () => {
    const { worker, connection } = await attachedWorker();
    const command = new RemoteCommand('shell', { command: 'sleep 100', workdir: 'build' });
    const result = command.run(connection, 'b1');
    worker.reply(await worker.next('start_command'));
    await sleep(20);
    const shutdown = connection.remoteShutdown();
    const interrupt = await worker.next('interrupt_command');
    expect(interrupt).toMatchObject({ command_id: command.commandId, why: 'worker shutdown' });
    worker.reply(interrupt);
    await sleep(30);
    expect(worker.pending().map((frame) => frame.op)).not.toContain('shutdown');
    await worker.finishCommand(command.commandId!, [['header', 'command interrupted, attempting to kill\n'], ['rc', -1]]);
    const bye = await worker.next('shutdown');
    worker.reply(bye);
    await shutdown;
    expect((await result).rc).toBe(-1);
  });

  it("a refused start_command rejects with the worker's text (EXCEPTION); an interrupt is CANCELLED", async () => {
    const { worker, connection } = await attachedWorker();
    const refused = new RemoteCommand('nope', {});
    const refusal = refused.run(connection, 'b1');
    const start = await worker.next('start_command');
    worker.reply(start, "unrecognized WorkerCommand 'nope'", true);
    const outcome = await refusal;
    expect(outcome.results).toBe(EXCEPTION);
    expect(outcome.failure).toBeInstanceOf(CommandRejectedError);
    expect(outcome.failure?.message).toBe("unrecognized WorkerCommand 'nope'");

    const sleeper = new RemoteCommand('shell', { command: 'sleep 100' });
    const running = sleeper.run(connection, 'b1');
    worker.reply(await worker.next('start_command'));
    await sleep(10);
    await sleeper.interrupt('enough');
    const interrupt = await worker.next('interrupt_command');
    expect(interrupt).toMatchObject({ builder_name: 'b1', command_id: sleeper.commandId, why: 'enough' });
    worker.reply(interrupt);
    await worker.finishCommand(sleeper.commandId!, [['rc', -1]]);
    expect((await running).results).toBe(CANCELLED);
  });
});
