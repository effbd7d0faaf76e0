/**
 * `npm start`: the demo farm (a master and two `ampstate worker` processes on loopback running a
 * small build job each) exits 0 and reports every step as succeeded.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { REPO, requireBuilt } from './harness.js';

it('node dist/examples/farm/main.js exits 0 with "all 14 steps succeeded"', async () => {
  requireBuilt();
  const main = join(REPO, 'dist', 'examples', 'farm', 'main.js');
  expect(existsSync(main), `${main} (run "npx tsc -p ." first)`).toBe(true);
  const child = spawn(process.execPath, [main], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AMPSTATE_LOG_LEVEL: 'warn' } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), 25_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  clearTimeout(killer);
  expect({ code, stderr }).toMatchObject({ code: 0 });
  expect(stdout).toContain('all 14 steps succeeded');
  expect(stdout).not.toMatch(/^\s+FAIL\s/m);
  for (const worker of ['worker-1', 'worker-2']) {
    for (const step of ['mkdir', 'build', 'upload artifact', 'upload docs', 'download config', 'use config', 'interrupt long command']) {
      expect(stdout).toMatch(new RegExp(`ok\\s+${worker}\\s+${step}`));
    }
  }
  expect(stdout).toContain('artifacts: app built by worker-1 | app built by worker-2');
}, 30_000);
