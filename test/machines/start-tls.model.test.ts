/**
 * Model-based test of the StartTLS machine: every path replayed against a real AmpConnection whose
 * peer is scripted byte by byte (answers, refusals, a real TLS endpoint or garbage), checking after
 * each step that the connection's behaviour (queueing, handshake) shows the machine's state.
 */
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AmpConnection } from '../../actors/amp-connection.js';
import { createMemoryPair } from '../../actors/memory-pair.js';
import { PrefixedDuplex } from '../../actors/prefixed-duplex.js';
import { temporaryServerCertificate } from '../../actors/tls-options.js';
import { BoxDecoder, encodeBox } from '../../codec/index.js';
import { startTlsMachine, type StartTlsEvent } from '../../machines/start-tls.js';
import { eventually, modelPaths } from './model-paths.js';

/**
 * The far end: reads AMP until the StartTLS exchange is over, then keeps the raw bytes (the
 * subject's TLS hello) so that a TLS server can be started on them later, or garbage sent instead.
 */
function scriptedPeer(end: Duplex) {
  const asked: string[] = [];
  let amp = true;
  const raw: Buffer[] = [];
  const decoder = new BoxDecoder({
    onBox: (box) => {
      const tag = box.get('_ask');
      if (tag !== undefined) asked.push(tag.toString('latin1'));
      if (box.has('_answer')) {
        amp = false;
        raw.push(...decoder.takeUnparsed());
      }
    },
    onError: () => {},
  });
  const onData = (chunk: Buffer) => {
    if (!amp) raw.push(chunk);
    else {
      decoder.push(chunk);
    }
  };
  end.on('data', onData);
  return {
    asked,
    stopAmp: () => (amp = false),
    write: (fields: Record<string, string>) => end.write(encodeBox(fields)),
    async serveTls(): Promise<tls.TLSSocket> {
      end.off('data', onData);
      end.pause();
      const { cert, key } = await temporaryServerCertificate();
      const server = new tls.TLSSocket(new PrefixedDuplex(end, raw.splice(0)), {
        isServer: true,
        secureContext: tls.createSecureContext({ cert, key }),
      });
      server.on('error', () => {});
      return server;
    },
  };
}

describe('startTls machine ≡ AmpConnection', () => {
  const events: StartTlsEvent[] = [
    { type: 'requested' },
    { type: 'answered' },
    { type: 'refused' },
    { type: 'responded' },
    { type: 'handshakeDone' },
    { type: 'handshakeFailed' },
  ];
  for (const path of modelPaths(startTlsMachine, events)) {
    it(path.name, async () => {
      const [subjectEnd, peerEnd] = createMemoryPair();
      const subject = new AmpConnection(subjectEnd, { role: 'client' });
      subject.closed.catch(() => undefined);
      const peer = scriptedPeer(peerEnd);
      let startTls: Promise<unknown> | undefined;
      for (const step of path.steps) {
        switch (step.event.type) {
          case 'requested':
            startTls = subject.startTLS().catch(() => undefined);
            await eventually(() => peer.asked.length, 1);
            break;
          case 'answered':
            // Whatever the subject sends after our answer is its TLS hello.
            peer.stopAmp();
            peer.write({ _answer: peer.asked[0]! });
            break;
          case 'refused':
            peer.write({ _error: peer.asked[0]!, _error_code: 'NOPE', _error_description: 'no TLS here' });
            await startTls;
            break;
          case 'responded':
            peer.write({ _ask: '1', _command: 'StartTLS' });
            break;
          case 'handshakeDone':
            await peer.serveTls();
            break;
          case 'handshakeFailed':
            peerEnd.write('this is not a TLS record at all\n');
            break;
        }
        expect(await eventually(() => subject.observedTlsState, step.expected)).toBe(step.expected);
        expect(subject.machines.startTls!.getSnapshot().value).toBe(step.expected);
      }
      subjectEnd.destroy();
    });
  }
});
