/**
 * The login throttle on its own, with a clock the test turns: when answers start to be held back,
 * how the delay grows and where it stops, how parallel attempts queue, and that its memory stays
 * bounded whatever a guesser sends.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LoginThrottle, type LoginThrottleOptions } from '../../actors/master/login-throttle.js';

function throttleAt(options: LoginThrottleOptions = {}) {
  const clock = { now: 0 };
  const throttle = new LoginThrottle({ failuresBeforeDelay: 3, baseDelayMs: 1_000, maxDelayMs: 8_000, ...options }, () => clock.now);
  return { clock, throttle };
}

/** One sequential guess: waits as told, fails, and reports the wait (or 'refused'). */
function guess(throttle: LoginThrottle, clock: { now: number }, host: string | undefined, name: string): number | 'refused' {
  const ticket = throttle.admit(host, name);
  if (ticket.refused) return 'refused';
  clock.now += ticket.delayMs;
  throttle.failed(host, name);
  return ticket.delayMs;
}

describe('LoginThrottle', () => {
  it('answers the first failures at once, then doubles the delay up to the bound', () => {
    const { clock, throttle } = throttleAt();
    const waits = Array.from({ length: 8 }, () => guess(throttle, clock, '10.0.0.1', 'w1'));
    expect(waits).toEqual([0, 0, 0, 1_000, 2_000, 4_000, 8_000, 8_000]);
  });

  it('counts by address across names, and by name across addresses', () => {
    const byAddress = throttleAt();
    for (const name of ['a', 'b', 'c']) guess(byAddress.throttle, byAddress.clock, '10.0.0.1', name);
    expect(byAddress.throttle.admit('10.0.0.1', 'd')).toEqual({ refused: false, delayMs: 1_000 });
    expect(byAddress.throttle.admit('10.0.0.2', 'e')).toEqual({ refused: false, delayMs: 0 });

    const byName = throttleAt();
    for (const host of ['10.0.0.1', '10.0.0.2', undefined]) guess(byName.throttle, byName.clock, host, 'w1');
    expect(byName.throttle.admit('10.0.0.9', 'w1')).toEqual({ refused: false, delayMs: 1_000 });
  });

  it('queues parallel attempts one back-off apart and refuses those that would wait past the bound', () => {
    const { clock, throttle } = throttleAt();
    for (let i = 0; i < 3; i++) guess(throttle, clock, '10.0.0.1', 'w1');
    const tickets = Array.from({ length: 10 }, () => throttle.admit('10.0.0.1', 'w1'));
    expect(tickets.map((ticket) => (ticket.refused ? 'refused' : ticket.delayMs))).toEqual([
      1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 'refused', 'refused',
    ]);
  });

  it('forgets an address and a name after a success, and failures once they are old', () => {
    const { clock, throttle } = throttleAt({ forgetAfterMs: 60_000 });
    for (let i = 0; i < 4; i++) guess(throttle, clock, '10.0.0.1', 'w1');
    throttle.succeeded('10.0.0.1', 'w1');
    expect(throttle.admit('10.0.0.1', 'w1')).toEqual({ refused: false, delayMs: 0 });

    for (let i = 0; i < 4; i++) guess(throttle, clock, '10.0.0.2', 'w2');
    clock.now += 60_001;
    expect(throttle.admit('10.0.0.2', 'w2')).toEqual({ refused: false, delayMs: 0 });
  });

  it('never waits past the bound, and never tracks more keys than allowed', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('10.0.0.1', '10.0.0.2', undefined), fc.string({ maxLength: 3 }), fc.boolean(), fc.nat(20_000)), {
          maxLength: 300,
        }),
        (attempts) => {
          const { clock, throttle } = throttleAt({ maxTrackedKeys: 5 });
          for (const [host, name, right, pause] of attempts) {
            clock.now += pause;
            const ticket = throttle.admit(host, name);
            if (!ticket.refused) expect(ticket.delayMs).toBeLessThanOrEqual(8_000);
            if (right) throttle.succeeded(host, name);
            else throttle.failed(host, name);
            expect(throttle.trackedKeys).toBeLessThanOrEqual(5);
          }
        },
      ),
    );
  });
});
