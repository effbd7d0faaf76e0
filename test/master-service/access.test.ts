/** Who needs the admin token: `/api/` always; pages and metrics only off loopback (or when asked). */
import { describe, expect, it } from 'vitest';
import { bearerMatches, isLoopbackAddress, tokenRequired } from '../../actors/master/admin/access.js';

describe('tokenRequired', () => {
  it('always guards the admin API', () => {
    for (const bindHost of ['127.0.0.1', '::1', '0.0.0.0', '192.0.2.7']) {
      expect(tokenRequired('/api/workers', { bindHost })).toBe(true);
      expect(tokenRequired('/api/exec', { bindHost })).toBe(true);
      expect(tokenRequired('/api', { bindHost })).toBe(true);
    }
  });

  it('opens the dashboard shell everywhere: a browser opening a page cannot send a bearer header', () => {
    for (const path of ['/', '/dashboard', '/dashboard/', '/dashboard/ui/main.js']) {
      expect(tokenRequired(path, { bindHost: '0.0.0.0' }), path).toBe(false);
      expect(tokenRequired(path, { bindHost: '127.0.0.1', tokenOnLoopback: true }), path).toBe(false);
    }
    for (const path of ['/dashboard/events', '/dashboard/machines.json', '/dashboard/ui/../events', '/dashboard/ui/x.txt']) {
      expect(tokenRequired(path, { bindHost: '0.0.0.0' }), path).toBe(true);
    }
  });

  it('opens the feed, the graphs and metrics on loopback only', () => {
    for (const path of ['/dashboard/events', '/dashboard/machines.json', '/metrics']) {
      expect(tokenRequired(path, { bindHost: '127.0.0.1' }), path).toBe(false);
      expect(tokenRequired(path, { bindHost: '::1' }), path).toBe(false);
      expect(tokenRequired(path, { bindHost: '0.0.0.0' }), path).toBe(true);
      expect(tokenRequired(path, { bindHost: '::' }), path).toBe(true);
      expect(tokenRequired(path, { bindHost: '10.1.2.3' }), path).toBe(true);
    }
  });

  it('guards everything on loopback too when the config says so', () => {
    expect(tokenRequired('/metrics', { bindHost: '127.0.0.1', tokenOnLoopback: true })).toBe(true);
  });
});

describe('isLoopbackAddress', () => {
  it('knows the loopback forms and nothing else', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) expect(isLoopbackAddress(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '128.0.0.1', '10.0.0.1', 'example.org', '::ffff:10.0.0.1']) expect(isLoopbackAddress(host), host).toBe(false);
  });
});

describe('bearerMatches', () => {
  it('accepts the token only as a Bearer credential', () => {
    expect(bearerMatches('Bearer s3cret', 's3cret')).toBe(true);
    expect(bearerMatches('bearer s3cret', 's3cret')).toBe(true);
    expect(bearerMatches('Bearer s3cre', 's3cret')).toBe(false);
    expect(bearerMatches('Basic s3cret', 's3cret')).toBe(false);
    expect(bearerMatches('s3cret', 's3cret')).toBe(false);
    expect(bearerMatches(undefined, 's3cret')).toBe(false);
    expect(bearerMatches('Bearer ', '')).toBe(false);
  });
});
