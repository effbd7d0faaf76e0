import { filter, firstValueFrom, toArray, take } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../actors/connect.js';
import { KeepaliveTimeoutError } from '../../actors/master/errors.js';
import { Listener, NOT_AUTHENTICATED_MESSAGE, type WorkerRegistryEvent } from '../../actors/master/listener.js';
import { AmpConnection } from '../../actors/amp-connection.js';
import { createMemoryPair } from '../../actors/memory-pair.js';
import { ResponderTable } from '../../actors/responders.js';
import { GetWorkerInfo, Login, Print, Update, UploadWrite } from '../../codec/protocols/worker-commands.js';
import { LoginRefusedError, NotAuthenticatedError } from '../../codec/protocols/worker-errors.js';
import { ampWorkerOn, attachedEvent, workerResponders, ampMasterOps } from '../contract/harnesses.js';
import { ScriptedWorker } from '../contract/scripted-worker.js';

const listeners: Listener[] = [];
afterEach(async () => {
  for (const listener of listeners.splice(0)) await listener.stop();
});

function newListener(options: ConstructorParameters<typeof Listener>[0] = {}): Listener {
  const listener = new Listener({ registrations: { w1: 'right' }, keepaliveIntervalMs: 0, loginTimeoutMs: 0, ...options });
  listeners.push(listener);
  return listener;
}

function detachedEvent(listener: Listener, name: string) {
  return firstValueFrom(listener.workers$.pipe(filter((event) => event.type === 'detached' && event.name === name))) as Promise<
    Extract<WorkerRegistryEvent, { type: 'detached' }>
  >;
}

describe('Listener: login', () => {
  it('answers nothing but Login before it, and sends the worker nothing', async () => {
    const listener = newListener();
    const script = new ScriptedWorker();
    const { amp } = ampWorkerOn(listener, script);
    const error = await amp.callRemote(Update, { commandId: '1', updates: [['rc', 0]] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NotAuthenticatedError);
    expect((error as Error).message).toBe(NOT_AUTHENTICATED_MESSAGE);
    await expect(amp.callRemote(UploadWrite, { commandId: '1', data: Buffer.from('x') })).rejects.toBeInstanceOf(NotAuthenticatedError);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(script.calls).toEqual([]);
    expect(amp.isClosed).toBe(false);
  });

  it('refuses a wrong password and an unknown name with the same clear error, then closes', async () => {
    const listener = newListener();
    for (const [username, password] of [
      ['w1', 'wrong'],
      ['nobody', 'right'],
    ]) {
      const { amp } = ampWorkerOn(listener, new ScriptedWorker());
      const error = await amp.callRemote(Login, { username: username!, password: password! }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(LoginRefusedError);
      expect((error as LoginRefusedError).code).toBe('WORKER_ERR_LOGIN_REFUSED');
      expect((error as Error).message).toBe(`login refused for worker '${username}': unknown name or wrong password`);
      await amp.closed;
    }
    expect(listener.current.size).toBe(0);
  });

  it('accepts the right password, grants the smaller transfer window, and refuses a second Login', async () => {
    const listener = newListener({ maxTransferWindow: 8 });
    const attached = attachedEvent(listener, 'w1');
    const { amp } = ampWorkerOn(listener, new ScriptedWorker());
    await expect(amp.callRemote(Login, { username: 'w1', password: 'right', transferWindow: 64 })).resolves.toEqual({ transferWindow: 8 });
    const connection = await attached;
    expect(connection.transferWindow).toBe(8);
    expect(listener.current.get('w1')).toBe(connection);
    await expect(amp.callRemote(Login, { username: 'w1', password: 'right' })).rejects.toBeInstanceOf(LoginRefusedError);

    const other = newListener();
    const otherAttached = attachedEvent(other, 'w1');
    const plain = ampWorkerOn(other, new ScriptedWorker());
    await expect(plain.amp.callRemote(Login, { username: 'w1', password: 'right' })).resolves.toEqual({ transferWindow: 1 });
    await otherAttached;
  });

  it('updateRegistration adds and changes passwords at run time; unregister refuses and drops', async () => {
    const listener = newListener();
    listener.updateRegistration('w2', 'first');
    const attached = attachedEvent(listener, 'w2');
    const first = ampWorkerOn(listener, new ScriptedWorker());
    await first.amp.callRemote(Login, { username: 'w2', password: 'first' });
    const connection = await attached;

    const registration = listener.updateRegistration('w2', 'second');
    expect(connection.state).toBe('attached');
    const stale = ampWorkerOn(listener, new ScriptedWorker());
    await expect(stale.amp.callRemote(Login, { username: 'w2', password: 'first' })).rejects.toBeInstanceOf(LoginRefusedError);

    const detached = detachedEvent(listener, 'w2');
    registration.unregister();
    const event = await detached;
    expect(event.connection).toBe(connection);
    expect(event.reason).toBeInstanceOf(LoginRefusedError);
    expect(listener.current.has('w2')).toBe(false);
    await first.amp.closed;
    const again = ampWorkerOn(listener, new ScriptedWorker());
    await expect(again.amp.callRemote(Login, { username: 'w2', password: 'second' })).rejects.toBeInstanceOf(LoginRefusedError);
  });

  it('attaches a worker without SetWorkerSettings; drops one whose handshake fails, never publishing it', async () => {
    const listener = newListener({ registrations: { minimal: 'pw', broken: 'pw' } });
    const attached = attachedEvent(listener, 'minimal');
    const [workerEnd, masterEnd] = createMemoryPair();
    listener.accept(masterEnd);
    const minimal = new AmpConnection(workerEnd, {
      role: 'client',
      responders: new ResponderTable().on(Print, () => ({})).on(GetWorkerInfo, () => ({ info: { basedir: '/w', system: 'posix' } })),
    });
    await minimal.callRemote(Login, { username: 'minimal', password: 'pw' });
    expect((await attached).info).toEqual({ basedir: '/w', system: 'posix' });

    const events: string[] = [];
    listener.workers$.subscribe((event) => events.push(`${event.type}${'name' in event ? ` ${event.name}` : ''}`));
    const script = new ScriptedWorker();
    script.handlers.getWorkerInfo = async () => {
      throw new Error('no info today');
    };
    const broken = ampWorkerOn(listener, script);
    await broken.amp.callRemote(Login, { username: 'broken', password: 'pw' });
    await broken.amp.closed;
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(events).toEqual(['snapshot']);
    expect([...listener.current.keys()]).toEqual(['minimal']);
  });

  it('closes a transport that never logs in', async () => {
    const listener = newListener({ loginTimeoutMs: 30 });
    const { amp } = ampWorkerOn(listener, new ScriptedWorker());
    await amp.closed;
  });
});

describe('Listener: duplicate names', () => {
  it('refuses the newcomer when the old connection answers its ping', async () => {
    const listener = newListener();
    const attached = attachedEvent(listener, 'w1');
    const oldScript = new ScriptedWorker();
    const old = ampWorkerOn(listener, oldScript);
    await old.amp.callRemote(Login, { username: 'w1', password: 'right' });
    const connection = await attached;
    const newcomer = ampWorkerOn(listener, new ScriptedWorker());
    const error = await newcomer.amp.callRemote(Login, { username: 'w1', password: 'right' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LoginRefusedError);
    expect((error as Error).message).toContain('already connected');
    expect(oldScript.calls.at(-1)).toEqual({ op: 'print', args: ['master got a duplicate connection'] });
    expect(connection.state).toBe('attached');
    expect(listener.current.get('w1')).toBe(connection);
  });

  it('aborts a silent old connection and accepts the newcomer', async () => {
    const listener = newListener({ duplicatePingTimeoutMs: 50 });
    const firstAttach = attachedEvent(listener, 'w1');
    const oldScript = new ScriptedWorker();
    const old = ampWorkerOn(listener, oldScript);
    await old.amp.callRemote(Login, { username: 'w1', password: 'right' });
    const oldConnection = await firstAttach;
    oldScript.handlers.print = () => new Promise(() => undefined);

    const events = listener.workers$.pipe(take(3), toArray());
    const recorded = firstValueFrom(events);
    const newcomer = ampWorkerOn(listener, new ScriptedWorker());
    await expect(newcomer.amp.callRemote(Login, { username: 'w1', password: 'right' })).resolves.toEqual({ transferWindow: 1 });
    const [snapshot, detached, attached] = await recorded;
    expect(snapshot?.type).toBe('snapshot');
    expect(detached).toMatchObject({ type: 'detached', name: 'w1', connection: oldConnection });
    expect(attached).toMatchObject({ type: 'attached', name: 'w1' });
    expect((attached as { connection: unknown }).connection).not.toBe(oldConnection);
    await old.amp.closed;
    expect(oldConnection.state).toBe('detached');
  });
});

describe('Listener: registry, keepalive and endpoints', () => {
  it('drops a worker whose keepalive goes unanswered and publishes the detach', async () => {
    const listener = newListener({ keepaliveIntervalMs: 20, keepaliveTimeoutMs: 30 });
    const attached = attachedEvent(listener, 'w1');
    const script = new ScriptedWorker();
    const worker = ampWorkerOn(listener, script);
    await worker.amp.callRemote(Login, { username: 'w1', password: 'right' });
    await attached;
    const detached = detachedEvent(listener, 'w1');
    script.handlers.keepalive = () => new Promise(() => undefined);
    const event = await detached;
    expect(event.reason).toBeInstanceOf(KeepaliveTimeoutError);
    expect(event.current.size).toBe(0);
    await worker.amp.closed;
  });

  it('listens on a TCP endpoint and stop() drops every worker', async () => {
    const listener = newListener({ endpoint: 'tcp:0:interface=127.0.0.1', registrations: { tcp1: 'pw' } });
    const address = await listener.start();
    const port = typeof address === 'string' ? 0 : address.port;
    const attached = attachedEvent(listener, 'tcp1');
    const script = new ScriptedWorker();
    const amp = await connect(`tcp:127.0.0.1:${port}`, { responders: workerResponders(script) });
    await amp.callRemote(Login, { username: 'tcp1', password: 'pw' });
    const connection = await attached;
    expect(script.calls.map((call) => call.op)).toEqual(['print', 'getWorkerInfo', 'setWorkerSettings']);
    await connection.remotePrint('over tcp');
    await expect(ampMasterOps(amp).update('nope', [])).rejects.toThrow();
    await listener.stop();
    await amp.closed;
    expect(connection.state).toBe('detached');
  });
});
