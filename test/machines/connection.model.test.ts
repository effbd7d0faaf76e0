/**
 * Model-based tests of the AMP connection's control machines: every path of each machine is
 * replayed against a real AmpConnection over an in-memory transport whose close the test holds
 * (so `closing` lasts), with a real peer or a raw scripted one. After every step, the state shown
 * by what can be seen from outside (bytes the peer receives, promises, lifecycle events) must equal
 * the machine's state, and the machine the connection runs must agree.
 */
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AmpConnection } from '../../actors/amp-connection.js';
import { createMemoryPair } from '../../actors/memory-pair.js';
import { responders, switchProtocol } from '../../actors/responders.js';
import { BoxDecoder, encodeBox, type AmpBox } from '../../codec/index.js';
import { ConnectionDoneError, ConnectionLostError, PeerVerifyError } from '../../codec/errors.js';
import { connectionMachine, type ConnectionEvent } from '../../machines/connection.js';
import { protocolSwitchMachine, type ProtocolSwitchEvent } from '../../machines/protocol-switch.js';
import { requestsMachine, type RequestsEvent } from '../../machines/requests.js';
import { Delay, Switch } from '../fixtures/commands.js';
import { gatedMemoryPair } from './gated-pair.js';
import { eventually, modelPaths } from './model-paths.js';

class BoomError extends Error {}

/**
 * What a test can see of a connection from outside, as a state name: lifecycle events, promises,
 * the peer seeing our end of the stream, and whether a box we send still reaches the peer.
 */
function outsideView(subject: AmpConnection, pair: { closeHeld(): boolean }, far: Duplex, probesSeen: () => number) {
  const seen = { opened: false, tls: false, switched: false, closed: undefined as Error | undefined, farEnded: false };
  subject.events$.subscribe((event) => {
    if (event.type === 'open') seen.opened = true;
  });
  void subject.closed.then((reason) => (seen.closed = reason));
  far.once('end', () => (seen.farEnded = true));
  const delivered = async () => {
    const before = probesSeen();
    subject.callRemoteString('Probe', {}, { requiresAnswer: false }).catch(() => undefined);
    return (await eventually(() => probesSeen() > before, true, 200)) === true;
  };
  const state = async () => {
    if (seen.closed !== undefined) return 'closed';
    if (pair.closeHeld() || seen.farEnded) return 'closing';
    if (seen.switched) return 'switched';
    // Over TLS our close waits for the peer's close_notify: what shows it is that nothing goes out.
    if (!(await delivered())) return seen.closed !== undefined ? 'closed' : 'closing';
    if (seen.tls) return 'tls';
    return seen.opened ? 'open' : 'connecting';
  };
  return { seen, state };
}

const connectionEvents: ConnectionEvent[] = [
  { type: 'connected' },
  { type: 'tlsStarted' },
  { type: 'switched' },
  { type: 'closeRequested' },
  { type: 'abortRequested', error: new ConnectionLostError('connection aborted') },
  { type: 'failed', error: new BoomError('boom') },
  { type: 'transportError', error: new ConnectionLostError('connection lost: EPIPE') },
  { type: 'transportClosed', peerSilentSinceTls: false },
];

/** Events the outside world can cause in each state (a switched or closing transport carries no AMP). */
function possibleEvents(snapshot: { value: unknown }): ConnectionEvent[] {
  const state = String(snapshot.value);
  return connectionEvents.filter((event) => {
    if (event.type === 'failed') return state === 'open' || state === 'tls' || state === 'connecting';
    if (event.type === 'tlsStarted') return state === 'open';
    return true;
  });
}

describe('connection machine ≡ AmpConnection', () => {
  for (const path of modelPaths(connectionMachine, possibleEvents)) {
    it(path.name, async () => {
      const pair = gatedMemoryPair();
      let probes = 0;
      const server = new AmpConnection(pair.far, {
        role: 'server',
        responders: responders()
          .on(Switch, () => switchProtocol((transport) => transport.on('data', (d) => transport.write(d))))
          .onRaw('Probe', () => {
            probes++;
            return {};
          }),
      });
      server.closed.catch(() => undefined);
      const client = new AmpConnection(pair.near, {
        role: 'client',
        connected: false,
        responders: responders().onRaw('Boom', () => {
          throw new BoomError('boom');
        }),
      });
      const view = outsideView(client, pair, pair.far, () => probes);
      let expectedReason: new (...args: never[]) => Error = ConnectionDoneError;
      const firstFailure = (reason: new (...args: never[]) => Error) => {
        if (expectedReason === ConnectionDoneError) expectedReason = reason;
      };
      expect(await view.state()).toBe('connecting');
      for (const step of path.steps) {
        switch (step.event.type) {
          case 'connected':
            pair.near.emit('connect');
            break;
          case 'tlsStarted':
            // The server presents Twisted's temporary self-signed certificate: nothing to verify it by.
            await client.startTLS({ verify: false });
            view.seen.tls = true;
            break;
          case 'switched':
            await client.switchProtocol(Switch, {});
            view.seen.switched = true;
            break;
          case 'closeRequested':
            client.close();
            break;
          case 'abortRequested':
            firstFailure(ConnectionLostError);
            client.abort();
            break;
          case 'failed':
            firstFailure(BoomError);
            server.callRemoteString('Boom', {}).catch(() => undefined);
            break;
          case 'transportError':
            firstFailure(ConnectionLostError);
            pair.near.emit('error', new Error('EPIPE'));
            break;
          case 'transportClosed':
            pair.release();
            pair.far.destroy();
            await client.closed;
            break;
        }
        // Over TLS a close completes by itself once the TLS socket is done, so `closing` may pass at once.
        const closingMayPass = step.expected === 'closing' && view.seen.tls;
        const observed = await eventually(() => view.state(), step.expected, closingMayPass ? 300 : 3000);
        expect(client.state).toBe(observed);
        if (observed === 'closed' && closingMayPass) break;
        expect(observed).toBe(step.expected);
      }
      // A transport that closes after TLS started, before the peer said anything (a switch answer counts), means the peer
      // refused our certificate (docs/amp-protocol.md §4).
      if (expectedReason === ConnectionDoneError && view.seen.tls && !view.seen.switched) expectedReason = PeerVerifyError;
      if (view.seen.closed !== undefined) expect(view.seen.closed).toBeInstanceOf(expectedReason);
      pair.release();
      pair.far.destroy();
    });
  }
});

/** A raw peer that reads our requests and answers exactly when the test says so. */
function rawPeer(end: Duplex) {
  const asked: string[] = [];
  const commands: string[] = [];
  let ended = false;
  const decoder = new BoxDecoder({
    onBox: (box: AmpBox) => {
      const tag = box.get('_ask');
      if (tag !== undefined) asked.push(tag.toString('latin1'));
      const command = box.get('_command');
      if (command !== undefined) commands.push(command.toString('latin1'));
    },
    onError: () => {},
  });
  end.on('data', (chunk: Buffer) => decoder.push(chunk));
  end.once('end', () => (ended = true));
  return {
    asked,
    commands,
    ended: () => ended,
    answer: (tag: string, fields: Record<string, string> = {}) => end.write(encodeBox({ ...fields, _answer: tag })),
    error: (tag: string) => end.write(encodeBox({ _error: tag, _error_code: 'NOPE', _error_description: 'refused' })),
  };
}

describe('requests machine ≡ the outstanding-call table', () => {
  const events: RequestsEvent[] = [
    { type: 'nonEmpty' },
    { type: 'empty' },
    { type: 'unknownTag', tag: 'zz' },
    { type: 'close', reason: new ConnectionDoneError() },
  ];
  for (const path of modelPaths(requestsMachine, events)) {
    it(path.name, async () => {
      const pair = gatedMemoryPair();
      const client = new AmpConnection(pair.near);
      const peer = rawPeer(pair.far);
      const calls: { settled: 'pending' | 'answered' | 'failed' }[] = [];
      let closed = false;
      void client.closed.then(() => (closed = true));
      const observe = () => {
        if (closed) return 'closed';
        if (peer.ended()) return 'dropping';
        return calls.some((call) => call.settled === 'pending') ? 'awaiting' : 'idle';
      };
      for (const step of path.steps) {
        const event = step.event;
        if (event.type === 'nonEmpty') {
          const record = { settled: 'pending' as 'pending' | 'answered' | 'failed' };
          calls.push(record);
          client.callRemote(Delay, { ms: 0, id: calls.length }).then(
            () => (record.settled = 'answered'),
            () => (record.settled = 'failed'),
          );
          await eventually(() => peer.asked.length, calls.length);
        } else if (event.type === 'empty') {
          peer.answer(peer.asked.at(-1)!, { id: String(calls.length) });
        } else if (event.type === 'unknownTag') {
          peer.answer('zz');
        } else {
          pair.release();
          pair.far.destroy();
        }
        expect(await eventually(observe, step.expected)).toBe(step.expected);
        expect(client.machines.requests!.getSnapshot().value).toBe(step.expected);
      }
      if (closed) {
        // What the table promises once closed: nothing is left pending, and new calls fail at once.
        await new Promise((resolve) => setTimeout(resolve, 10));
        expect(calls.every((call) => call.settled !== 'pending')).toBe(true);
        await expect(client.callRemote(Delay, { ms: 0, id: 0 })).rejects.toBeInstanceOf(Error);
      }
      pair.release();
      pair.far.destroy();
    });
  }
});

describe('protocolSwitch machine ≡ AmpConnection', () => {
  const receiver = () => {};
  const events: ProtocolSwitchEvent[] = [
    { type: 'requested' },
    { type: 'answered', receiver },
    { type: 'refused' },
    { type: 'responded', receiver },
  ];
  for (const path of modelPaths(protocolSwitchMachine, events)) {
    it(path.name, async () => {
      const [subjectEnd, peerEnd] = createMemoryPair();
      let switched = false;
      // `responded` is the answering side's event: that side is the connection under test then.
      const responding = path.steps[0]?.event.type === 'responded';
      const subject = responding
        ? new AmpConnection(subjectEnd, { responders: responders().on(Switch, () => switchProtocol(() => (switched = true))) })
        : new AmpConnection(subjectEnd);
      const peer = rawPeer(peerEnd);
      let switchCall: Promise<unknown> | undefined;
      const observe = () => {
        if (switched) return 'switched';
        try {
          // A locked connection refuses to send synchronously; an unlocked one sends.
          subject.callRemoteString('Probe', {}, { requiresAnswer: false });
          return 'unlocked';
        } catch {
          return 'locked';
        }
      };
      for (const step of path.steps) {
        if (step.event.type === 'requested') {
          switchCall = subject.switchProtocol(Switch, {}).then(
            () => (switched = true),
            () => undefined,
          );
          await eventually(() => peer.asked.length, 1);
        } else if (step.event.type === 'answered') {
          peer.answer(peer.asked.at(-1)!);
          await switchCall;
        } else if (step.event.type === 'refused') {
          peer.error(peer.asked.at(-1)!);
          await switchCall;
          peer.asked.length = 0;
        } else {
          peerEnd.write(encodeBox({ _ask: '1', _command: 'Switch' }));
        }
        expect(await eventually(observe, step.expected)).toBe(step.expected);
        expect(subject.machines.protocolSwitch!.getSnapshot().value).toBe(step.expected);
      }
      peerEnd.destroy();
    });
  }
});
