/**
 * The processes bench/amp talks to: servers that print `{"port": N}` and live until their stdin
 * closes (ampstate, raw TCP, Twisted), and one-shot Python runs that print a JSON result.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directory of bench/amp.ts (or dist/bench/amp.js): where the child scripts are. */
const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The repository root, whether this runs from dist/bench or from bench/. */
export const ROOT = /[\\/]dist[\\/]bench$/.test(BENCH_DIR) ? resolve(BENCH_DIR, '../..') : resolve(BENCH_DIR, '..');
export const PYTHON = '/usr/bin/python3';
export const AMP_PEER = join(ROOT, 'test/python/amp_peer.py');

export interface Child {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Spawns a server that prints `{"port": N}` and exits when its stdin closes. */
export function spawnServer(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Child> {
  const child: ChildProcessWithoutNullStreams = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-4000)));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return new Promise((resolvePort, reject) => {
    const fail = (why: string) => reject(new Error(`${command} ${args.join(' ')}: ${why}\n${stderr}`));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail('no port within 20 s');
    }, 20_000);
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code) => fail(`exited (${code}) before listening`));
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      if (!stdout.includes('\n')) return;
      clearTimeout(timer);
      const { port } = JSON.parse(stdout.slice(0, stdout.indexOf('\n'))) as { port: number };
      resolvePort({
        port,
        pid: child.pid ?? -1,
        stop: async () => {
          child.stdin.end();
          const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(kill);
        },
      });
    });
  });
}

/** Runs a command to its end and parses the last line it prints as JSON. */
export function runJson(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-4000)));
  return new Promise((done, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      try {
        done(JSON.parse(stdout.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`${command} ${args.join(' ')} exited ${code} without JSON:\n${stderr}`));
      }
    });
  });
}

/** A compiled child script next to bench/amp.js (amp-server, raw-server). */
export function childScript(name: string): string {
  const script = join(BENCH_DIR, `${name}.js`);
  if (!existsSync(script)) throw new Error(`${script} is missing: run "npm run build" first`);
  return script;
}

export function log(message: string): void {
  process.stderr.write(`[bench/amp] ${message}\n`);
}
