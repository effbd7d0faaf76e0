import { describe, expect, it } from 'vitest';
import { RecentNames } from '../../actors/amp/recent-names.js';

describe('RecentNames', () => {
  it('returns the text of the bytes, whatever names came before', () => {
    const names = new RecentNames();
    const words = ['Hello', 'Hellp', 'Echo', 'Hell', 'Hello!', '', 'Ping', 'Pong', 'Zeta', 'Hello', '\u00e9t\u00e9', 'Echo'];
    const chunk = Buffer.from(`xx${words.join('|')}yy`, 'latin1');
    let start = 2;
    for (let round = 0; round < 3; round++) {
      start = 2;
      for (const word of words) {
        expect(names.read(chunk, start, start + word.length)).toBe(word);
        start += word.length + 1;
      }
    }
  });
});
