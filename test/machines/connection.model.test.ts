/**
 * Model-based tests of the AMP connection's control machines: every path of each machine is
 * replayed against a real AmpConnection (over an in-memory transport, with a real peer or a raw
 * scripted one), and after every step the state the connection's behaviour shows must equal the
 * machine's state, and the machine the actor runs must agree too.
 */
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AmpConnection } from '../../actors/amp-connection.js';
import { createMemoryPair } from '../../actors/memory-pair.js';
import { responders, switchProtocol } from '../../actors/responders.js';
import { BoxDecoder, encodeBox, type AmpBox } from '../../codec/index.js';
import { connectionMachine, type ConnectionEvent } from '../../machines/connection.js';
import { protocolSwitchMachine, type ProtocolSwitchEvent } from '../../machines/protocol-switch.js';
import { requestsMachine, type RequestsEvent } from '../../machines/requests.js';
import { Delay, Switch } from '../fixtures/commands.js';
import { eventually, modelPaths } from './model-paths.js';

function connectedPair(options: { clientConnected?: boolean } = {}) {
  const [clientEnd, serverEnd] = createMemoryPair();
  const server = new AmpConnection(serverEnd, {
    role: 'server',
    responders: responders().on(Switch, () => switchProtocol((transport) => transport.on('data', (d) => transport.write(d)))),
  });
  const client = new AmpConnection(clientEnd, { role: 'client', connected: options.clientConnected ?? true });
  return { client, server, clientEnd, serverEnd };
}

describe('connection machine ≡ AmpConnection', () => {
  const events: ConnectionEvent[] = [
    { type: 'connected' },
    { type: 'tlsStarted' },
    { type: 'switched' },
    { type: 'closeRequested' },
    { type: 'transportClosed', reason: 'peer closed' },
  ];
  for (const path of modelPaths(connectionMachine, events)) {
    it(path.name, async () => {
      const { client, clientEnd, serverEnd } = connectedPair({ clientConnected: false });
      expect(client.observedState).toBe('connecting');
      for (const step of path.steps) {
        switch (step.event.type) {
          case 'connected':
            clientEnd.emit('connect');
            break;
          case 'tlsStarted':
            await client.startTLS();
            break;
          case 'switched':
            await client.switchProtocol(Switch, {});
            break;
          case 'closeRequested':
            client.close();
            break;
          case 'transportClosed':
            serverEnd.destroy();
            await client.closed;
            break;
        }
        expect(await eventually(() => client.observedState, step.expected)).toBe(step.expected);
        expect(client.state).toBe(step.expected);
      }
      clientEnd.destroy();
    });
  }
});

/** A raw peer that reads our requests and answers exactly when the test says so. */
function rawPeer(end: Duplex) {
  const asked: string[] = [];
  const decoder = new BoxDecoder({
    onBox: (box: AmpBox) => {
      const tag = box.get('_ask');
      if (tag !== undefined) asked.push(tag.toString('latin1'));
    },
    onError: () => {},
  });
  end.on('data', (chunk: Buffer) => decoder.push(chunk));
  return {
    asked,
    answer: (tag: string, fields: Record<string, string> = {}) => end.write(encodeBox({ ...fields, _answer: tag })),
    error: (tag: string) => end.write(encodeBox({ _error: tag, _error_code: 'NOPE', _error_description: 'refused' })),
  };
}

describe('requests machine ≡ the outstanding-request table', () => {
  const events: RequestsEvent[] = [
    { type: 'call', tag: 'next', wantsAnswer: true },
    { type: 'reply', tag: 'oldest', known: true },
    { type: 'reply', tag: 'zz', known: false },
    { type: 'close', reason: 'peer closed' },
  ];
  for (const path of modelPaths(requestsMachine, events)) {
    it(path.name, async () => {
      const [clientEnd, peerEnd] = createMemoryPair();
      const client = new AmpConnection(clientEnd);
      const peer = rawPeer(peerEnd);
      const calls: { settled: 'pending' | 'answered' | 'failed' }[] = [];
      let answered = 0;
      const observe = () => (client.isClosed ? 'closed' : 'accepting');
      for (const step of path.steps) {
        const event = step.event;
        if (event.type === 'call') {
          const record = { settled: 'pending' as 'pending' | 'answered' | 'failed' };
          calls.push(record);
          client.callRemote(Delay, { ms: 0, id: calls.length }).then(
            () => (record.settled = 'answered'),
            () => (record.settled = 'failed'),
          );
          if (!client.isClosed) await eventually(() => peer.asked.length, calls.length);
        } else if (event.type === 'reply' && event.known) {
          const tag = peer.asked[answered++];
          if (tag !== undefined) peer.answer(tag, { id: String(answered) });
        } else if (event.type === 'reply') {
          peer.answer('zz');
        } else {
          peerEnd.destroy();
        }
        expect(await eventually(observe, step.expected)).toBe(step.expected);
        expect(client.machines.requests!.getSnapshot().value).toBe(step.expected);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
      // What the table promises: once closed, nothing is left pending.
      if (client.isClosed) expect(calls.every((call) => call.settled !== 'pending')).toBe(true);
      expect(client.pendingCalls).toBe(client.isClosed ? 0 : calls.filter((call) => call.settled === 'pending').length);
      peerEnd.destroy();
    });
  }
});

describe('protocolSwitch machine ≡ AmpConnection', () => {
  const events: ProtocolSwitchEvent[] = [{ type: 'requested' }, { type: 'answered' }, { type: 'refused' }, { type: 'responded' }];
  for (const path of modelPaths(protocolSwitchMachine, events)) {
    it(path.name, async () => {
      const [clientEnd, peerEnd] = createMemoryPair();
      // `responded` is the answering side's event: that side is the connection under test then.
      const responding = path.steps[0]?.event.type === 'responded';
      const subject = responding
        ? new AmpConnection(clientEnd, { responders: responders().on(Switch, () => switchProtocol(() => {})) })
        : new AmpConnection(clientEnd);
      const peer = rawPeer(peerEnd);
      let switchCall: Promise<unknown> | undefined;
      const observe = () => {
        if (subject.observedState === 'switched') return 'switched';
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
          switchCall = subject.switchProtocol(Switch, {}).catch(() => undefined);
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
