/**
 * The real Twisted versions the interop suites run against: Debian bookworm's Twisted 22.4 (the
 * system's /usr/bin/python3) and Debian trixie's Twisted 24.11, unpacked into .cache/ by
 * test/peers/fetch-twisted-24.sh and put on PYTHONPATH. 22.4 speaks trial's old (inline) worker
 * dialect, 24.11 the stream dialect of 22.10 and later (docs/trial-protocol.md §0).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeWithPeer, type PeerAvailability } from './describe-with-peer.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..').replace(/\/dist$/, '');

/** Where test/peers/fetch-twisted-24.sh unpacks trixie's packages. */
export const TWISTED_24_SITE = join(ROOT, '.cache/twisted-24.11/usr/lib/python3/dist-packages');

export interface TwistedPeer {
  /** "Twisted 22.4": what test names say when a test is about one version. */
  readonly label: string;
  /** The `major.minor` that `twisted.__version__` must start with. */
  readonly version: string;
  readonly python: string;
  /** Directories put first on PYTHONPATH so that this interpreter imports this Twisted. */
  readonly sitePath: readonly string[];
  /** The trial worker dialect this version's workers and manager speak. */
  readonly dialect: '22.4' | '22.10';
  /** How to get it when it is missing. */
  readonly install: string;
}

export const TWISTED_22_4: TwistedPeer = {
  label: 'Twisted 22.4',
  version: '22.4',
  python: '/usr/bin/python3',
  sitePath: [],
  dialect: '22.4',
  install: 'apt-get install python3-twisted python3-openssl python3-service-identity',
};

export const TWISTED_24_11: TwistedPeer = {
  label: 'Twisted 24.11',
  version: '24.11',
  python: '/usr/bin/python3',
  sitePath: [TWISTED_24_SITE],
  dialect: '22.10',
  install: 'bash test/peers/fetch-twisted-24.sh',
};

export const TWISTED_PEERS: readonly TwistedPeer[] = [TWISTED_22_4, TWISTED_24_11];

/**
 * The environment for running Python with this peer's Twisted: its site directories, then
 * `extraPath`, then whatever PYTHONPATH the caller passes in `base` is dropped (a stray
 * PYTHONPATH must not pick the Twisted version).
 */
export function peerEnv(peer: TwistedPeer, extraPath: readonly string[] = [], base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const path = [...peer.sitePath, ...extraPath];
  const env: NodeJS.ProcessEnv = { ...base, PYTHONDONTWRITEBYTECODE: '1' };
  if (path.length > 0) env.PYTHONPATH = path.join(':');
  else delete env.PYTHONPATH;
  return env;
}

const checked = new Map<TwistedPeer, PeerAvailability>();

/**
 * Whether this peer runs here: the interpreter imports Twisted (AMP, TLS, trial's worker) at
 * exactly this version. Checked once per process.
 */
export function peerAvailability(peer: TwistedPeer): PeerAvailability {
  const known = checked.get(peer);
  if (known !== undefined) return known;
  const result = probe(peer);
  checked.set(peer, result);
  return result;
}

const PROBE = 'import twisted, twisted.protocols.amp, twisted.trial._dist.workertrial, OpenSSL, cryptography; print(twisted.__version__)';

function probe(peer: TwistedPeer): PeerAvailability {
  if (!existsSync(peer.python)) return { available: false, reason: `${peer.python} not found (${peer.install})` };
  const missing = peer.sitePath.find((dir) => !existsSync(dir));
  if (missing !== undefined) return { available: false, reason: `${missing} is missing (${peer.install})` };
  const run = spawnSync(peer.python, ['-c', PROBE], { encoding: 'utf8', timeout: 30_000, env: peerEnv(peer) });
  if (run.status !== 0) {
    const detail = (run.stderr || String(run.error ?? run.signal)).trim().split('\n').pop();
    return { available: false, reason: `${peer.python} cannot import ${peer.label} (${detail}; ${peer.install})` };
  }
  const found = run.stdout.trim();
  if (found !== peer.version && !found.startsWith(`${peer.version}.`)) {
    return { available: false, reason: `${peer.python} imports Twisted ${found}, not ${peer.version} (${peer.install})` };
  }
  return { available: true, reason: `Twisted ${found}` };
}

/**
 * One describe block per Twisted version, named `<name> (Twisted X.Y)`, each under the CI rule of
 * describeWithPeer (a missing version fails under CI=true, is skipped elsewhere).
 */
export function describeEachTwisted(name: string, body: (peer: TwistedPeer) => void, peers: readonly TwistedPeer[] = TWISTED_PEERS): void {
  for (const peer of peers) describeWithPeer(`${name} (${peer.label})`, peerAvailability(peer), () => body(peer));
}
