/**
 * `ampstate call` as a user runs it: `node bin/ampstate.js call …` (the compiled
 * CLI in dist/, built by `npm test`/`npx tsc -p .`), against the real Twisted server of
 * test/python/amp_peer.py, plus a raw TCP capture for the exact fire-and-forget bytes.
 */
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AMPSTATE_BIN, runCli, type CliRun } from '../support/run-cli.js';
import { type PythonServer, closedPort, describeInterop, startPythonServer, withTimeout } from '../interop/support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = `${ROOT}dist/bin/cli.js`;


/** Runs the CLI with the user's default log level (the test runner's `silent` is removed). */
function ampstate(args: readonly string[], options: { onSpawn?: () => void } = {}): Promise<CliRun> {
  return runCli(AMPSTATE_BIN, args, options);
}

describeInterop('ampstate call against a Twisted server', () => {
  let server: PythonServer;
  let endpoint: string;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p .)`);
    server = await startPythonServer();
    endpoint = `tcp:127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('prints the answer as one JSON object and exits 0', async () => {
    const run = await ampstate(['call', endpoint, 'Hello', 'count=5', 'name=bob']);
    expect(run).toMatchObject({ code: 0, stdout: '{"greeting":"hi bob x5 é"}\n', stderr: '' });
  });

  it('prints every answer field as text (Integer values included)', async () => {
    const run = await ampstate(['call', `tcp:host=127.0.0.1:port=${server.port}`, 'PingCount']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ count: '0', total: '0' });
  });

  it('sends key:hex= as raw bytes; non-UTF-8 answer values print as {"hex": …}, UTF-8 ones as text', async () => {
    const binary = await ampstate(['call', endpoint, 'Echo', 'data:hex=ff00fe']);
    expect(binary).toMatchObject({ code: 0, stdout: '{"data":{"hex":"ff00fe"}}\n' });
    const utf8 = await ampstate(['call', endpoint, 'Echo', 'data:hex=68C3A9']);
    expect(utf8).toMatchObject({ code: 0, stdout: '{"data":"hé"}\n' });
    const mixed = await ampstate(['call', endpoint, 'Types', 's:hex=00ff80', 'u=héllo ☃', 'from=7', 'lu:hex=']);
    expect(mixed.code).toBe(0);
    expect(JSON.parse(mixed.stdout)).toEqual({ s: { hex: '00ff80' }, u: 'héllo ☃', from: '7', lu: '' });
  });

  it('on a declared error reply prints "<code>: <description>" on stderr and exits 1', async () => {
    const run = await ampstate(['call', endpoint, 'Hello', 'count=-1', 'name=x']);
    expect(run).toMatchObject({ code: 1, stdout: '', stderr: 'BAD_VALUE: negative count\n' });
  });

  it('UNHANDLED and UNKNOWN replies keep their codes and Twisted’s descriptions (exit 1)', async () => {
    const unhandled = await ampstate(['call', endpoint, 'NoSuchCommand']);
    expect(unhandled).toMatchObject({ code: 1, stdout: '', stderr: "UNHANDLED: Unhandled Command: b'NoSuchCommand'\n" });
    const unknown = await ampstate(['call', endpoint, 'Hello', 'count=666', 'name=x']);
    expect(unknown).toMatchObject({ code: 1, stdout: '', stderr: 'UNKNOWN: Unknown Error\n' });
    const fatal = await ampstate(['call', endpoint, 'Hello', 'count=777', 'name=x']);
    expect(fatal).toMatchObject({ code: 1, stdout: '', stderr: 'FATAL_BOOM: fatal boom\n' });
  });

  it('exits 2 with a clear message when it cannot connect', async () => {
    const port = await closedPort();
    const run = await ampstate(['call', `tcp:127.0.0.1:${port}`, 'Hello', 'count=1', 'name=x']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`could not connect to tcp:127.0.0.1:${port}`);
    expect(run.stderr).toContain('ECONNREFUSED');
  });

  it('exits 2 when the connection drops mid-call (the server sends a key over 255 bytes)', async () => {
    const run = await ampstate(['call', endpoint, 'Hello', 'count=255255', 'name=x']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/ampstate call: connection failed: AMP_ERR_KEY_TOO_LONG: .*256/);
  });

  it('exits 2 when the server process dies mid-call', async () => {
    const doomed = await startPythonServer();
    const connections = () => doomed.stderr().split('connection established').length - 1;
    const run = ampstate(['call', `tcp:127.0.0.1:${doomed.port}`, 'Delay', 'ms=20000', 'id=1']);
    // Kill it once it has our connection (and therefore our pending Delay).
    await withTimeout(
      (async () => {
        while (connections() < 1) await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      10_000,
      'server saw the CLI connect',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    doomed.process.kill('SIGKILL');
    const result = await run;
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/ampstate call: connection failed: AMP_ERR_CONNECTION_(DONE|LOST)/);
    expect(result.elapsedMs).toBeLessThan(10_000);
    await doomed.stop();
  });

  it('--timeout gives up on a slow answer (exit 2, says so)', async () => {
    const run = await ampstate(['call', endpoint, 'Delay', 'ms=5000', 'id=1', '--timeout', '0.5']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/AMP_ERR_CALL_TIMEOUT: .*no answer within 500 ms/);
    expect(run.elapsedMs).toBeLessThan(4000);
    const fast = await ampstate(['call', endpoint, 'Delay', 'ms=10', 'id=4', '--timeout', '5']);
    expect(fast).toMatchObject({ code: 0, stdout: '{"id":"4"}\n' });
  });

  it('--fire sends without _ask and exits 0 without output; Twisted runs the responder', async () => {
    const before = server.stderr().split('RuntimeError: boom').length;
    const run = await ampstate(['call', endpoint, 'Hello', 'count=666', 'name=fired', '--fire']);
    expect(run).toMatchObject({ code: 0, stdout: '', stderr: '' });
    // The undeclared error of a fire-and-forget call is only logged by Twisted (docs/amp-protocol.md §2.4).
    await withTimeout(
      (async () => {
        while (server.stderr().split('RuntimeError: boom').length === before) await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      5000,
      'Twisted logging the fire-and-forget failure',
    );
  });

  it('--fire writes exactly the fire-and-forget box (spec vector A6 with n=7)', async () => {
    const received: Buffer[] = [];
    const capture = net.createServer((socket) => socket.on('data', (chunk: Buffer) => received.push(chunk)));
    await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', () => resolve()));
    const port = (capture.address() as net.AddressInfo).port;
    const run = await ampstate(['call', `tcp:127.0.0.1:${port}`, 'Ping', 'n=7', '--fire']);
    await new Promise<void>((resolve) => capture.close(() => resolve()));
    expect(run).toMatchObject({ code: 0, stdout: '' });
    expect(Buffer.concat(received).toString('hex')).toBe('00085f636f6d6d616e64000450696e6700016e0001370000');
  });

  it('rejects malformed fields before connecting', async () => {
    const run = await ampstate(['call', endpoint, 'Echo', 'data:hex=abc']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('not valid hex');
    const noEquals = await ampstate(['call', endpoint, 'Hello', 'count']);
    expect(noEquals.code).toBe(2);
    expect(noEquals.stderr).toContain('is not key=value');
  });
});
