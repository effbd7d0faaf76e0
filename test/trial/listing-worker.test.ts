/** Which worker options let the first worker list the tests before it works (listing-worker.ts). */
import { describe, expect, it } from 'vitest';
import { canListFirst } from '../../actors/trial/listing-worker.js';

describe('canListFirst', () => {
  it('allows the options that act the same after the test modules are imported', () => {
    expect(canListFirst([])).toBe(true);
    expect(canListFirst(['--force-gc'])).toBe(true);
    expect(canListFirst(['--disablegc', '--recursionlimit', '5000'])).toBe(true);
    expect(canListFirst(['--recursionlimit=5000', '--force-gc'])).toBe(true);
  });

  it('refuses the ones that must act before the imports, and any it does not know', () => {
    expect(canListFirst(['--reactor', 'asyncio'])).toBe(false);
    expect(canListFirst(['--force-gc', '--reactor=asyncio'])).toBe(false);
    expect(canListFirst(['--without-module', 'xml.dom.minidom'])).toBe(false);
    expect(canListFirst(['--coverage'])).toBe(false);
    expect(canListFirst(['--something-new'])).toBe(false);
  });
});
