/**
 * The Twisted side of bench/amp: `amp_peer.py twisted-bench` (Twisted's client and server in one
 * process, the way Twisted runs) and `client-bench` (a Twisted client against our server), under
 * Twisted 22.4 (the system's) and, when unpacked, 24.11 from .cache/ (as test/support/twisted-peers.ts
 * finds it for the interop tests).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AMP_PEER, PYTHON, ROOT, runJson } from './children.js';
import { best, type PairResult } from './measure.js';

export interface TwistedVersion {
  readonly label: string;
  /** The environment that makes PYTHON import this Twisted. */
  readonly env: NodeJS.ProcessEnv;
}

/** Where test/peers/fetch-twisted-24.sh unpacks Debian trixie's Twisted 24.11. */
const TWISTED_24_SITE = join(ROOT, '.cache/twisted-24.11/usr/lib/python3/dist-packages');

function pythonEnv(sitePath: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
  if (sitePath === undefined) delete env.PYTHONPATH;
  else env.PYTHONPATH = sitePath;
  return env;
}

export const TWISTED_22: TwistedVersion = { label: 'Twisted 22.4', env: pythonEnv(undefined) };

/** Twisted 24.11 when it is unpacked and imports as 24.11; undefined otherwise. */
export function twisted24(): TwistedVersion | undefined {
  if (!existsSync(TWISTED_24_SITE)) return undefined;
  const env = pythonEnv(TWISTED_24_SITE);
  const probe = spawnSync(PYTHON, ['-c', 'import twisted.protocols.amp, twisted; print(twisted.__version__)'], { env, encoding: 'utf8' });
  return probe.status === 0 && probe.stdout.trim().startsWith('24.11') ? { label: 'Twisted 24.11', env } : undefined;
}

/** Twisted ↔ Twisted, best of two runs; CPU per call is the lower of the two (Twisted's own process_time). */
export async function twistedPair(version: TwistedVersion): Promise<PairResult> {
  const runs = [
    (await runJson(PYTHON, [AMP_PEER, 'twisted-bench'], version.env)) as unknown as PairResult,
    (await runJson(PYTHON, [AMP_PEER, 'twisted-bench'], version.env)) as unknown as PairResult,
  ];
  const cpu = runs.map((r) => r.cpu_us_per_call);
  return {
    sequential_calls_per_s: best(runs.map((r) => r.sequential_calls_per_s)),
    pipelined_calls_per_s: best(runs.map((r) => r.pipelined_calls_per_s)),
    echo_MBps: best(runs.map((r) => r.echo_MBps)),
    ...(cpu.every((c) => c !== undefined)
      ? {
          cpu_us_per_call: {
            sequential: Math.min(...cpu.map((c) => c.sequential)),
            pipelined: Math.min(...cpu.map((c) => c.pipelined)),
            echo: Math.min(...cpu.map((c) => c.echo)),
          },
        }
      : {}),
    errors: runs.reduce((sum, r) => sum + Number(r.errors), 0),
  };
}

/** A Twisted client against our server on `port`. */
export async function twistedClient(version: TwistedVersion, port: number): Promise<PairResult> {
  return (await runJson(PYTHON, [AMP_PEER, 'client-bench', '--port', String(port)], version.env)) as unknown as PairResult;
}
