// Every trial outcome kind as a node:test test (see docs-trial.md for the mapping). Expected, by
// trial counter: successes=3, failures=2, errors=3, skips=1, expectedFailures=1,
// unexpectedSuccesses=1 (11 tests). `node --test` counts: pass 3, fail 5, skipped 1, todo 2.
import assert from 'node:assert';
import { describe, it, test } from 'node:test';

/** Above the 65535-byte AMP value limit, like the Python fixture's LargeMessageTests. */
export const LARGE_SIZE = 70000;

test('pass one', () => {
  assert.strictEqual(1 + 1, 2);
});

test('pass two', async () => {
  await new Promise((resolve) => setTimeout(resolve, 5));
});

test('logs output', () => {
  console.log('ampstate js log line');
  console.error('ampstate js stderr line');
});

test('strict equal fails', () => {
  assert.strictEqual(1, 2);
});

test('throws TypeError', () => {
  null.boom();
});

test('throws Error with non-ASCII text', () => {
  throw new Error('bad \u00e9');
});

test('large error', () => {
  throw new Error('E'.repeat(LARGE_SIZE));
});

test('skipped', { skip: 'not on this machine' }, () => {});

test('todo fails', { todo: 'known to be broken' }, () => {
  assert.fail('still broken');
});

test('todo passes', { todo: 'should have failed' }, () => {});

describe('nested suite', () => {
  describe('inner', () => {
    it('ok fails', () => {
      assert.ok(false, 'nope');
    });
  });
});
