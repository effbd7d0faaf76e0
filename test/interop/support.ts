/**
 * Helpers for the interop suites: the real Twisted peers of test/python (see its README for the
 * exact contracts), run with either Twisted version of test/support/twisted-peers.ts, throw-away
 * certificates, and a TS server with the SAME responders as amp_peer.py.
 *
 * CI rule: under CI=true a missing Twisted version fails its suite; elsewhere the suite is skipped
 * and the reason is printed and shown in the suite's name.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describeWithPeer, type PeerAvailability } from '../support/describe-with-peer.js';
import { TWISTED_22_4, describeEachTwisted, peerAvailability, peerEnv, type TwistedPeer } from '../support/twisted-peers.js';
import { AmpConnection, type AmpConnectionEvent, type AmpConnectionOptions } from '../../actors/amp-connection.js';
import { responders, startTlsWith, switchProtocol } from '../../actors/responders.js';
import type { TlsOptions } from '../../actors/tls-options.js';
import { DateTimeValue, DecimalValue } from '../../codec/index.js';
import { StartTLS } from '../../codec/protocols/start-tls.js';
import { Delay, Echo, Hello, Ping, PingCount, Switch, Types, WhoAmI, greet } from '../fixtures/commands.js';

/** test/python, also when this file runs compiled from dist/test/interop. */
export const PYTHON_DIR = resolve(fileURLToPath(new URL('../python/', import.meta.url)).replace(/\/dist\/test\/python\/?$/, '/test/python/'));
export const AMP_PEER = join(PYTHON_DIR, 'amp_peer.py');
export const MAKE_CERTS = join(PYTHON_DIR, 'make_certs.py');
export const TOOLONG_COUNT = 255255;

// ------------------------------------------------------------------ availability and the CI rule

export { IN_CI as isCI } from '../support/describe-with-peer.js';
export { TWISTED_22_4, TWISTED_24_11, TWISTED_PEERS, type TwistedPeer } from '../support/twisted-peers.js';

/** The 22.4 interpreter, for suites that run one version only. */
export const PYTHON = TWISTED_22_4.python;
export type Availability = PeerAvailability;

/** Whether the Python peers run with Twisted 22.4 (checked once). */
export function pythonAvailability(): Availability {
  return peerAvailability(TWISTED_22_4);
}

/** A describe() that needs the Python peers with Twisted 22.4 (the suites that are not about versions). */
export function describeInterop(name: string, body: () => void): void {
  describeWithPeer(name, pythonAvailability(), body);
}

/** One describe() per Twisted version, named `<name> (Twisted X.Y)`. */
export function describeInteropEach(name: string, body: (peer: TwistedPeer) => void): void {
  describeEachTwisted(name, body);
}

// ------------------------------------------------------------------ certificates

export interface Certificates {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

/** make_certs.py into a fresh temp dir; `remove()` deletes it. */
export function makeCertificates(): Certificates & { remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'ampstate-certs-'));
  const result = spawnSync(TWISTED_22_4.python, [MAKE_CERTS, dir], { encoding: 'utf8', timeout: 60_000, env: peerEnv(TWISTED_22_4) });
  if (result.status !== 0) throw new Error(`make_certs.py failed: ${result.stderr}`);
  const paths = JSON.parse(result.stdout.trim().split('\n').pop()!) as Record<string, string>;
  return {
    dir,
    ca: paths.ca!,
    serverCert: paths.server_cert!,
    serverKey: paths.server_key!,
    clientCert: paths.client_cert!,
    clientKey: paths.client_key!,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// ------------------------------------------------------------------ Python server

/** Whether amp_peer.py reported running this peer's Twisted (so a peer can never silently stand in for another). */
function runsVersion(reported: string | undefined, peer: TwistedPeer): boolean {
  return reported !== undefined && reported.startsWith(`${peer.version}.`);
}

export interface PythonServer {
  readonly port: number;
  readonly process: ChildProcessWithoutNullStreams;
  /** Everything the server logged so far (Twisted logs to stderr). */
  stderr(): string;
  /** Closes stdin (a clean shutdown), then SIGKILL if it lingers. */
  stop(): Promise<void>;
}

export interface TlsFiles {
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
}

function tlsArgs(tls: TlsFiles = {}): string[] {
  const args: string[] = [];
  if (tls.cert !== undefined) args.push('--cert', tls.cert);
  if (tls.key !== undefined) args.push('--key', tls.key);
  if (tls.ca !== undefined) args.push('--ca', tls.ca);
  return args;
}

/** `amp_peer.py server --port 0`; resolves once it printed its port. stdin stays an open pipe. */
export function startPythonServer(tls: TlsFiles = {}, peer: TwistedPeer = TWISTED_22_4): Promise<PythonServer> {
  const child = spawn(peer.python, [AMP_PEER, 'server', '--port', '0', ...tlsArgs(tls)], { stdio: ['pipe', 'pipe', 'pipe'], env: peerEnv(peer) });
  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`amp_peer.py server printed no port within 20 s; stderr:\n${stderr}`));
    }, 20_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`amp_peer.py server exited early (${code ?? signal}); stderr:\n${stderr}`));
    });
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      const newline = stdout.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      const { port, twisted } = JSON.parse(stdout.slice(0, newline)) as { port: number; twisted?: string };
      if (!runsVersion(twisted, peer)) {
        void stop();
        reject(new Error(`amp_peer.py server runs Twisted ${twisted}, not ${peer.label}`));
        return;
      }
      resolvePort({ port, process: child, stderr: () => stderr, stop });
    });
  });
}

// ------------------------------------------------------------------ Python client

export interface ClientRun<R = Record<string, any>> {
  readonly exitCode: number | null;
  readonly result: R & { scenario: string; ok?: boolean };
  readonly stderr: string;
}

/** Runs `amp_peer.py client --scenario NAME` against 127.0.0.1:port; resolves with its JSON line. */
export function runPythonClient(
  port: number,
  scenario: string,
  options: TlsFiles & { readonly calls?: number; readonly timeoutS?: number; readonly peer?: TwistedPeer } = {},
): Promise<ClientRun> {
  const args = [AMP_PEER, 'client', '--port', String(port), '--scenario', scenario, ...tlsArgs(options)];
  if (options.calls !== undefined) args.push('--calls', String(options.calls));
  if (options.timeoutS !== undefined) args.push('--timeout', String(options.timeoutS));
  const peer = options.peer ?? TWISTED_22_4;
  const child = spawn(peer.python, args, { stdio: ['ignore', 'pipe', 'pipe'], env: peerEnv(peer) });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((done, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop() ?? '';
      let result: ClientRun['result'] & { twisted?: string };
      try {
        result = JSON.parse(line) as typeof result;
      } catch {
        reject(new Error(`amp_peer.py client ${scenario}: no JSON on stdout (exit ${code}); stdout=${stdout}\nstderr:\n${stderr}`));
        return;
      }
      if (runsVersion(result.twisted, peer)) done({ exitCode: code, result, stderr });
      else reject(new Error(`amp_peer.py client ran Twisted ${result.twisted}, not ${peer.label}; stderr:\n${stderr}`));
    });
  });
}

// ------------------------------------------------------------------ TS server with amp_peer.py's responders

export interface ServerConnection {
  readonly connection: AmpConnection;
  readonly socket: net.Socket;
  /** Arguments the Types responder received, in order. */
  readonly typesReceived: Record<string, unknown>[];
  /** Common names once TLS was up: our certificate and the peer's (kept after the close). */
  tls?: { readonly host: string; readonly peer: string };
  /** performance.now() of the last event of each type on our side. */
  readonly eventTimes: Partial<Record<AmpConnectionEvent['type'], number>>;
  pings: number;
  pingTotal: number;
}

export interface TsServer {
  readonly port: number;
  readonly connections: ServerConnection[];
  /** Resolves with the next connection accepted after this call (call it before the peer connects). */
  nextConnection(): Promise<ServerConnection>;
  close(): Promise<void>;
}

function commonName(certificate: { subject?: { CN?: string | string[] } } | undefined): string {
  const cn = certificate?.subject?.CN;
  return Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? '');
}

export function peerCommonName(connection: AmpConnection): string {
  return commonName(connection.peerCertificate);
}

export function hostCommonName(connection: AmpConnection): string {
  return commonName(connection.hostCertificate);
}

/**
 * A TCP server on 127.0.0.1 whose connections answer exactly like amp_peer.py's PeerAMP: Hello
 * (BAD_VALUE, 666 → UNKNOWN, 777 → FATAL_BOOM, 255255 → raw `01 00` and no answer), Ping and
 * PingCount per connection, Types echo, Echo, Delay (setTimeout), WhoAmI (peer CN), Switch (byte
 * echo) and StartTLS with the given certificate/CA.
 */
export async function startTsServer(
  options: {
    readonly tls?: TlsOptions;
    readonly onConnection?: (entry: ServerConnection) => void;
    /** Other control machine definitions, to show that the machines decide what Twisted sees. */
    readonly machines?: AmpConnectionOptions['machines'];
  } = {},
): Promise<TsServer> {
  const connections: ServerConnection[] = [];
  const waiting: ((entry: ServerConnection) => void)[] = [];
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let entry!: ServerConnection;
    const table = responders()
      .on(Hello, ({ count, name }) => {
        if (count === BigInt(TOOLONG_COUNT)) {
          // A key-length prefix of 256: the caller's parser must give up and close.
          socket.write(Buffer.from([0x01, 0x00]));
          return new Promise<never>(() => {});
        }
        return greet(count, name);
      })
      .on(Ping, ({ n }) => {
        entry.pings += 1;
        entry.pingTotal += Number(n);
        return {};
      })
      .on(PingCount, () => ({ count: entry.pings, total: entry.pingTotal }))
      .on(Types, (args) => {
        entry.typesReceived.push(args);
        return args;
      })
      .on(Echo, ({ data }) => ({ data }))
      .on(Delay, ({ ms, id }) => new Promise((done) => setTimeout(() => done({ id }), Math.max(ms, 0))))
      .on(WhoAmI, () => ({ cn: peerCommonName(entry.connection) }))
      .on(Switch, () => switchProtocol((transport: Duplex) => transport.on('data', (chunk: Buffer) => transport.write(chunk))));
    // Like amp_peer.py's StartTLS responder: our certificate and the CA the peer must chain to;
    // without options the built-in responder uses a temporary self-signed certificate.
    const tls = options.tls;
    if (tls !== undefined) table.on(StartTLS, () => startTlsWith(tls));
    const connection = new AmpConnection(socket, { role: 'server', responders: table, name: 'PeerAMP', machines: options.machines });
    entry = { connection, socket, typesReceived: [], eventTimes: { open: performance.now() }, pings: 0, pingTotal: 0 };
    connection.events$.subscribe((event) => {
      entry.eventTimes[event.type] = performance.now();
      if (event.type === 'tls') entry.tls = { host: hostCommonName(connection), peer: peerCommonName(connection) };
    });
    connections.push(entry);
    options.onConnection?.(entry);
    for (const waiter of waiting.splice(0)) waiter(entry);
  });
  await new Promise<void>((done, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => done());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connections,
    nextConnection: () => new Promise((done) => waiting.push(done)),
    close: async () => {
      for (const { connection } of connections) connection.abort();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

// ------------------------------------------------------------------ Types cases (amp_peer.py TYPES_CASES)

/** Oracle representations (test/python/README.md), keyed by wire name, exactly as amp_peer.py sends them. */
const BIG = (2n ** 70n).toString();
export const TYPES_CASES: readonly (readonly [string, Record<string, unknown>])[] = [
  [
    'full',
    {
      fl: '8000000000000000',
      d: [0, '10', -1],
      t: [2024, 2, 29, 23, 59, 59, 999999, 330],
      b: true,
      u: 'h\u00e9llo \u2603 \u{1F600} \u{10FFFF}',
      li: ['0', '-1', BIG, '-' + BIG],
      lu: ['a', '', '\u00e9', '\u{1F600}'],
      al: [{ a: '7', b: 'hello' }, { a: '9' }],
      from: '5',
      'foo-bar': '6',
      s: '00ff0d0a' + Buffer.from('bytes').toString('hex'),
      i: BIG,
      p: '/tmp/ampstate test/p\u00e4th',
      lli: [['1', '2'], [], ['3', BIG]],
    },
  ],
  [
    'nan-utc',
    {
      fl: '7ff8000000000000',
      d: [0, '1', 2],
      t: [2012, 1, 23, 12, 34, 56, 54321, 0],
      b: false,
      u: '',
      li: [],
      lu: [],
      al: [],
      s: '',
      from: '0',
      'foo-bar': '-1',
      i: '-' + BIG,
      p: '/',
      lli: [],
    },
  ],
  ['inf', { fl: '7ff0000000000000', d: [1, '', 'N'], t: [1, 1, 1, 0, 0, 0, 0, -480], al: [{ a: '0', b: '' }], lli: [[]], u: '\u{1F600}' }],
  ['neginf', { fl: 'fff0000000000000', d: [0, '123', 'n'], t: [9999, 12, 31, 23, 59, 59, 999999, -1439] }],
  ['misc', { fl: '4341c37937e08000', d: [0, '1234500', -4], t: [2000, 6, 15, 8, 0, 0, 1, 60], li: ['-42'] }],
  ['tiny', { fl: '0000000000000001', d: [1, '0', 'F'] }],
  ['empty', {}],
];

function floatFromBits(hex: string): number {
  return Buffer.from(hex, 'hex').readDoubleBE(0);
}

function decimalFromRep([sign, digits, exponent]: [0 | 1, string, number | 'n' | 'N' | 'F']): DecimalValue {
  if (exponent === 'F') return DecimalValue.infinity(sign);
  if (exponent === 'n' || exponent === 'N') return DecimalValue.nan(sign, digits, exponent === 'N');
  return DecimalValue.finite(sign, digits, exponent);
}

function dateTimeFromRep([year, month, day, hour, minute, second, microsecond, offsetMinutes]: number[]): DateTimeValue {
  return new DateTimeValue({ year: year!, month: month!, day: day!, hour, minute, second, microsecond, offsetMinutes });
}

/** The JS values a Types responder/caller must see for one case (oracle reps → ampstate values). */
export function typesValuesFromReps(reps: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [wire, rep] of Object.entries(reps)) {
    switch (wire) {
      case 'fl':
        out[wire] = floatFromBits(rep as string);
        break;
      case 'd':
        out[wire] = decimalFromRep(rep as [0 | 1, string, number]);
        break;
      case 't':
        out[wire] = dateTimeFromRep(rep as number[]);
        break;
      case 'b':
      case 'u':
      case 'p':
        out[wire] = rep;
        break;
      case 'lu':
        out[wire] = [...(rep as string[])];
        break;
      case 'li':
        out[wire] = (rep as string[]).map(BigInt);
        break;
      case 'lli':
        out[wire] = (rep as string[][]).map((inner) => inner.map(BigInt));
        break;
      case 'al':
        out[wire] = (rep as Record<string, string>[]).map((element) => {
          const value: Record<string, unknown> = { a: BigInt(element.a!) };
          if (element.b !== undefined) value.b = element.b;
          return value;
        });
        break;
      case 's':
        out[wire] = Buffer.from(rep as string, 'hex');
        break;
      case 'from':
      case 'foo-bar':
      case 'i':
        out[wire] = BigInt(rep as string);
        break;
      default:
        throw new Error(`unknown Types field ${wire}`);
    }
  }
  return out;
}

/**
 * Field-by-field comparison with the exact semantics of each type: floats by bits (−0.0 ≠ 0.0,
 * NaN = NaN), decimals and datetimes by representation, bigints, bytes. Returns the fields that
 * differ (absent on one side only counts as a difference).
 */
export function typesDifferences(expected: Record<string, unknown>, actual: Record<string, unknown>): string[] {
  const fields = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  const differing: string[] = [];
  for (const field of fields) {
    if (!sameValue(expected[field], actual[field])) differing.push(`${field}: expected ${show(expected[field])}, got ${show(actual[field])}`);
  }
  return differing;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (typeof a === 'number') return typeof b === 'number' && Object.is(a, b);
  if (typeof a === 'bigint' || typeof a === 'string' || typeof a === 'boolean') return a === b;
  if (a instanceof DecimalValue) return b instanceof DecimalValue && a.equals(b);
  if (a instanceof DateTimeValue) return b instanceof DateTimeValue && a.equals(b);
  if (Buffer.isBuffer(a)) return Buffer.isBuffer(b) && a.equals(b);
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

function show(value: unknown): string {
  if (value === undefined) return '(absent)';
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (Buffer.isBuffer(value)) return `<${value.toString('hex')}>`;
  return JSON.stringify(value, (_key, item) => (typeof item === 'bigint' ? `${item}n` : item));
}

// ------------------------------------------------------------------ small utilities

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
    }),
  ]);
}
