import { AmpStateError } from '../codec/errors.js';

/**
 * Twisted's endpoint description strings (strports): `tcp:host=127.0.0.1:port=8750`,
 * `unix:path=/x`, `tls:host=…:port=…:trustRoots=…`, with the short positional forms
 * `tcp:HOST:PORT` and `unix:/path` for clients and `tcp:PORT` for servers. `\:` escapes a colon.
 * A `tls:` client verifies the server's certificate and host name unless given `verify=no`
 * (docs/amp-protocol.md §4.1).
 */
export type EndpointDescription =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | {
      readonly kind: 'unix';
      readonly path: string;
      /** `fds=yes`: the socket passes file descriptors, for Descriptor arguments (docs/amp-protocol.md §3.6). */
      readonly passDescriptors?: boolean;
    }
  | {
      readonly kind: 'tls';
      readonly host: string;
      readonly port: number;
      /** CA certificates (a PEM file or a directory of them) the peer must chain to; default the platform's. */
      readonly trustRoots?: string;
      /** Client: false (`verify=no`) accepts any certificate, for any host. Default true. */
      readonly verify?: boolean;
      readonly certificate?: string;
      readonly privateKey?: string;
    };

export class EndpointSyntaxError extends AmpStateError {
  override readonly code = 'AMP_ERR_ENDPOINT_SYNTAX';
  constructor(
    readonly description: string,
    reason: string,
  ) {
    super(`invalid endpoint ${JSON.stringify(description)}: ${reason}`);
  }
}

interface Parsed {
  readonly kind: string;
  readonly positional: string[];
  readonly named: Map<string, string>;
}

function split(description: string): Parsed {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < description.length; i++) {
    const char = description[i]!;
    if (char === '\\' && i + 1 < description.length) current += description[++i];
    else if (char === ':') {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  const [kind = '', ...rest] = parts;
  const positional: string[] = [];
  const named = new Map<string, string>();
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq > 0) named.set(part.slice(0, eq), part.slice(eq + 1));
    else positional.push(part);
  }
  return { kind: kind.toLowerCase(), positional, named };
}

function port(description: string, text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || text === '' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw new EndpointSyntaxError(description, `port must be an integer in 0..65535, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** A client endpoint: where to connect. */
export function parseClientEndpoint(description: string): EndpointDescription {
  const { kind, positional, named } = split(description);
  switch (kind) {
    case 'tcp':
      return {
        kind,
        host: named.get('host') ?? positional[0] ?? fail(description, 'tcp needs a host'),
        port: port(description, named.get('port') ?? positional[1]),
      };
    case 'unix':
      return {
        kind,
        path: named.get('path') ?? positional[0] ?? fail(description, 'unix needs a path'),
        passDescriptors: yesOrNo(description, 'fds', named.get('fds')),
      };
    case 'tls':
    case 'ssl': {
      const endpoint: EndpointDescription = {
        kind: 'tls',
        host: named.get('host') ?? positional[0] ?? fail(description, 'tls needs a host'),
        port: port(description, named.get('port') ?? positional[1]),
        trustRoots: named.get('trustRoots') ?? named.get('caCertsDir'),
        certificate: named.get('certificate') ?? named.get('certKey'),
        privateKey: named.get('privateKey'),
        verify: yesOrNo(description, 'verify', named.get('verify')),
      };
      return endpoint;
    }
    default:
      return fail(description, `unknown endpoint type ${JSON.stringify(kind)} (expected tcp, unix or tls)`);
  }
}

/** A server endpoint: where to listen. `tcp:PORT` binds 127.0.0.1 unless `interface=` says otherwise. */
export function parseServerEndpoint(description: string): EndpointDescription {
  const { kind, positional, named } = split(description);
  switch (kind) {
    case 'tcp':
      return { kind, host: named.get('interface') ?? '127.0.0.1', port: port(description, named.get('port') ?? positional[0]) };
    case 'unix':
      return {
        kind,
        path: named.get('address') ?? named.get('path') ?? positional[0] ?? fail(description, 'unix needs a path'),
        passDescriptors: yesOrNo(description, 'fds', named.get('fds')),
      };
    case 'tls':
    case 'ssl':
      return {
        kind: 'tls',
        host: named.get('interface') ?? '127.0.0.1',
        port: port(description, named.get('port') ?? positional[0]),
        trustRoots: named.get('trustRoots') ?? named.get('caCertsDir'),
        certificate: named.get('certKey') ?? named.get('certificate') ?? named.get('privateKey'),
        privateKey: named.get('privateKey'),
      };
    default:
      return fail(description, `unknown endpoint type ${JSON.stringify(kind)} (expected tcp, unix or tls)`);
  }
}

/** Twisted's endpoint strings spell booleans `yes`/`no`; absent means the default. */
function yesOrNo(description: string, name: string, text: string | undefined): boolean | undefined {
  if (text === undefined) return undefined;
  if (text === 'yes') return true;
  if (text === 'no') return false;
  return fail(description, `${name} must be yes or no, got ${JSON.stringify(text)}`);
}

function fail(description: string, reason: string): never {
  throw new EndpointSyntaxError(description, reason);
}
