/**
 * HTTP Basic credentials from a WebSocket upgrade, judged as Buildbot's msgpack master judges
 * them (docs/master-worker-protocol.md §4): no header is 401; a header that is not `Basic <base64 of user:pass>` is 400.
 * Whether the name and password are right is the registry's business (401 when not).
 */

export type BasicAuth =
  | { readonly kind: 'missing' }
  | { readonly kind: 'malformed'; readonly reason: string }
  | { readonly kind: 'credentials'; readonly username: string; readonly password: string };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseBasicAuth(header: string | undefined): BasicAuth {
  if (header === undefined) return { kind: 'missing' };
  const match = /^Basic +(.*)$/s.exec(header);
  if (match === null) return { kind: 'malformed', reason: 'the Authorization scheme is not Basic' };
  const encoded = (match[1] ?? '').trim();
  if (!BASE64.test(encoded) || encoded.length % 4 !== 0) return { kind: 'malformed', reason: 'the credentials are not base64' };
  let text: string;
  try {
    text = utf8.decode(Buffer.from(encoded, 'base64'));
  } catch {
    return { kind: 'malformed', reason: 'the credentials are not UTF-8' };
  }
  const colon = text.indexOf(':');
  if (colon < 0) return { kind: 'malformed', reason: 'the credentials have no colon' };
  // The name cannot hold a colon; the password may.
  return { kind: 'credentials', username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The header a worker sends (for tests and scripted workers). */
export function basicAuthHeader(username: string, password: string): string {
  if (username.includes(':')) throw new TypeError('a Basic auth user name cannot contain a colon');
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}
