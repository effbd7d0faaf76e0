import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The installed entry point users run (`npx ampstate`); it loads the compiled CLI from dist/. */
export const AMPSTATE_BIN = `${REPO_ROOT}bin/ampstate.js`;

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly elapsedMs: number;
}

export interface CliRunOptions {
  /** The environment, on top of this process's; a key set to undefined is removed. */
  readonly env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed; without it stdin is closed at once. */
  readonly input?: string;
  readonly cwd?: string;
  /** Node's own options, before the script. */
  readonly nodeArguments?: readonly string[];
  readonly timeoutMs?: number;
  readonly onSpawn?: () => void;
}

/**
 * Runs `node <script> …args` as a user would, with the user's default log level (the test runner's
 * `silent` is removed), and collects its output; killed after the timeout.
 */
export function runCli(script: string, args: readonly string[], options: CliRunOptions = {}): Promise<CliRun> {
  const env = { ...process.env, ...options.env };
  delete env.AMPSTATE_LOG_LEVEL;
  for (const [key, value] of Object.entries(options.env ?? {})) if (value === undefined) delete env[key];
  if (options.env?.AMPSTATE_LOG_LEVEL !== undefined) env.AMPSTATE_LOG_LEVEL = options.env.AMPSTATE_LOG_LEVEL;
  const started = performance.now();
  const child = spawn(process.execPath, [...(options.nodeArguments ?? []), script, ...args], { env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.input ?? '');
  options.onSpawn?.();
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, elapsedMs: performance.now() - started });
    });
  });
}
