/**
 * Model-based test of the StartTLS machine: every path replayed against a real AmpConnection whose
 * peer is scripted byte by byte (answers, refusals, a real TLS endpoint or garbage), checking after
 * each step that what the peer and the connection's users see (the request and answer on the wire,
 * the TLS hello, the `tls` event, the promise's outcome, the close) shows the machine's state.
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
  let answerReceived = false;
  let amp = true;
  const raw: Buffer[] = [];
  const decoder = new BoxDecoder({
    onBox: (box) => {
      const tag = box.get('_ask');
      if (tag !== undefined) asked.push(tag.toString('latin1'));
      if (box.has('_answer')) {
        answerReceived = true;
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
    answerReceived: () => answerReceived,
    /** Bytes the subject sent after the StartTLS exchange: its TLS hello. */
    rawBytes: () => raw.reduce((total, chunk) => total + chunk.length, 0),
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
    { type: 'answered', tls: {} },
    { type: 'refused' },
    { type: 'asked' },
    { type: 'responded', tls: {} },
    { type: 'handshakeDone' },
    { type: 'handshakeFailed', error: new Error('not TLS') },
  ];
  for (const path of modelPaths(startTlsMachine, events)) {
    it(path.name, async () => {
      const [subjectEnd, peerEnd] = createMemoryPair();
      // The peer presents Twisted's temporary self-signed certificate: nothing to verify it by.
      const subject = new AmpConnection(subjectEnd, { role: 'client', tls: { verify: false } });
      const peer = scriptedPeer(peerEnd);
      const seen = { secure: false, refused: false, closed: false, peerAsked: false };
      subject.events$.subscribe((event) => {
        if (event.type === 'tls') seen.secure = true;
      });
      void subject.closed.then(() => (seen.closed = true));
      const observe = () => {
        if (seen.secure) return 'secure';
        if (seen.closed) return 'failed';
        if (seen.refused) return 'wedged';
        if (peer.rawBytes() > 0) return 'handshaking';
        if (seen.peerAsked && !peer.answerReceived()) return 'answering';
        return peer.asked.length > 0 ? 'buffering' : 'plain';
      };
      let startTls: Promise<unknown> | undefined;
      for (const step of path.steps) {
        switch (step.event.type) {
          case 'requested':
            startTls = subject.startTLS({ verify: false }).catch(() => (seen.refused = peer.rawBytes() === 0));
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
          case 'asked':
            seen.peerAsked = true;
            peer.write({ _ask: '1', _command: 'StartTLS' });
            // `answering` lasts only until our certificate is ready: from outside it shows as the
            // wait before the answer, too short to catch here. The next step checks where it led.
            continue;
          case 'responded':
            break;
          case 'handshakeDone':
            await peer.serveTls();
            break;
          case 'handshakeFailed':
            peerEnd.write('this is not a TLS record at all\n');
            break;
        }
        expect(await eventually(observe, step.expected)).toBe(step.expected);
        expect(subject.machines.startTls!.getSnapshot().value).toBe(step.expected);
      }
      subjectEnd.destroy();
    });
  }
});
