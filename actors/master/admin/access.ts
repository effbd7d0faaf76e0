/**
 * Who may use the admin server without the token. Everything under `/api/` needs
 * `Authorization: Bearer <token>`, always. The dashboard's page and scripts are always public. The
 * rest (the dashboard's feed and graphs, `/metrics`) is
 * open when the server listens on loopback only, unless the config asks for the token there too;
 * on any other address everything needs it (see docs/master-service.md).
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { isIP } from 'node:net';

export const API_PREFIX = '/api/';

/**
 * The dashboard's shell: its page and its scripts hold no farm data, and a browser opening a page
 * cannot send a bearer header. They are public; what they fetch (the feed, the graphs) is not.
 */
const PUBLIC_SHELL = /^\/(?:dashboard\/?|dashboard\/ui\/[\w.-]+\.js)?$/;

/** Whether a bind address can only be reached from this machine. */
export function isLoopbackAddress(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./i.test(bare);
  return false;
}

export interface AccessPolicy {
  /** The address the server is bound to. */
  readonly bindHost: string;
  /** Require the token for pages and metrics on loopback too. */
  readonly tokenOnLoopback?: boolean;
}

/** Whether a request for `path` must carry the token. */
export function tokenRequired(path: string, policy: AccessPolicy): boolean {
  if (path.startsWith(API_PREFIX) || path === API_PREFIX.slice(0, -1)) return true;
  if (PUBLIC_SHELL.test(path)) return false;
  if (policy.tokenOnLoopback) return true;
  return !isLoopbackAddress(policy.bindHost);
}

/** Whether an Authorization header carries `token` (compared in constant time). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const presented = createHash('sha256').update(match?.[1] ?? '').digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(presented, expected) && match !== null;
}
