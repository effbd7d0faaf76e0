/**
 * Model-based test of the inputFlow machine: every path replayed against a real AmpConnection with
 * small limits (one async responder in flight, 1 KiB of unsent output). After every step, whether
 * the connection still reads, seen from outside as a fire-and-forget Ping from the peer being
 * handled, must match the machine's state.
 */
import { describe, expect, it } from 'vitest';
import { AmpConnection } from '../../actors/amp-connection.js';
import { createMemoryPair } from '../../actors/memory-pair.js';
import { responders } from '../../actors/responders.js';
import { inputFlowMachine, type InputFlowEvent } from '../../machines/input-flow.js';
import { Delay, Echo, Ping } from '../fixtures/commands.js';
import { eventually, modelPaths } from './model-paths.js';

const events: InputFlowEvent[] = [
  { type: 'writeBufferFull' },
  { type: 'writeBufferDrained' },
  { type: 'respondersFull' },
  { type: 'respondersBelowLimit' },
];

/**
 * A limit can only fill when it has room, and only drain when it is full; and a connection that has
 * stopped reading for its write buffer reads no new request that could fill its responders.
 */
function possibleEvents(snapshot: { context: { writeBufferFull: boolean; respondersFull: boolean } }): InputFlowEvent[] {
  const { writeBufferFull, respondersFull } = snapshot.context;
  return events.filter((event) =>
    event.type === 'writeBufferFull'
      ? !writeBufferFull
      : event.type === 'writeBufferDrained'
        ? writeBufferFull
        : event.type === 'respondersFull'
          ? !respondersFull && !writeBufferFull
          : respondersFull,
  );
}

describe('inputFlow machine ≡ AmpConnection', () => {
  for (const path of modelPaths(inputFlowMachine, possibleEvents, { everyTransition: true })) {
    it(path.name, async () => {
      const [subjectEnd, peerEnd] = createMemoryPair();
      let pings = 0;
      const held: (() => void)[] = [];
      const subject = new AmpConnection(subjectEnd, {
        maxConcurrentResponses: 1,
        maxWriteBuffer: 1024,
        responders: responders()
          .on(Ping, () => {
            pings++;
            return {};
          })
          .on(Delay, ({ id }) => new Promise((resolve) => held.push(() => resolve({ id })))),
      });
      const peer = new AmpConnection(peerEnd, { role: 'server', responders: responders().on(Echo, ({ data }) => ({ data })) });
      const reading = async () => {
        const before = pings;
        void peer.callRemote(Ping, { n: 1 });
        return (await eventually(() => pings > before, true, 150)) ? 'reading' : 'paused';
      };
      const echoes: Promise<unknown>[] = [];
      for (const step of path.steps) {
        switch (step.event.type) {
          case 'respondersFull':
            peer.callRemote(Delay, { ms: 0, id: 1 }).catch(() => undefined);
            await eventually(() => held.length, 1);
            break;
          case 'respondersBelowLimit':
            held.shift()!();
            break;
          case 'writeBufferFull':
            // The peer stops reading; our calls pile up in our write buffer past its limit.
            peerEnd.pause();
            for (let i = 0; i < 8; i++) echoes.push(subject.callRemote(Echo, { data: Buffer.alloc(8 * 1024, i) }).catch(() => undefined));
            break;
          case 'writeBufferDrained':
            peerEnd.resume();
            // Their answers come back only once reading resumes, which a full responder table forbids.
            if (!step.snapshot.context.respondersFull) await Promise.all(echoes.splice(0));
            break;
        }
        const expected = step.expected;
        // Paused for the write buffer, the Ping we send to probe waits in the peer's own buffer.
        expect(await eventually(reading, expected, 1000)).toBe(expected);
        expect(subject.machines.inputFlow!.getSnapshot().value).toBe(expected);
      }
      subjectEnd.destroy();
    });
  }
});
