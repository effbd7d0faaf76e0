// A second file so that -j spreads tests of several files. Expected: successes=4, errors=1.
import assert from 'node:assert';
import { describe, it } from 'node:test';

describe('math', () => {
  it('adds', () => assert.strictEqual(2 + 2, 4));
  it('multiplies', () => assert.strictEqual(3 * 3, 9));
  it('subtracts', () => assert.strictEqual(5 - 3, 2));
  it('divides', () => assert.strictEqual(8 / 2, 4));
  it('throws RangeError', () => {
    new Array(-1);
  });
});
