/**
 * The CLI's manners, as a user meets them: `node bin/ampstate.js …` (the compiled CLI in dist/;
 * build first with npx tsc -p .). Typed `call` values run against the real Twisted server of
 * test/python/amp_peer.py, whose Types command echoes every argument back.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AMPSTATE_BIN, runCli, type CliRun } from '../support/run-cli.js';
import { type PythonServer, describeInterop, startPythonServer } from '../interop/support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));


/** Runs the CLI with the user's default log level (the test runner's `silent` is removed). */
function ampstate(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return runCli(AMPSTATE_BIN, args, { env });
}

/** A TCP server that takes boxes and answers nothing: enough for `call --fire` to make machines. */
let sink: net.Server;
let sinkEndpoint: string;

beforeAll(async () => {
  if (!existsSync(`${ROOT}dist/bin/cli.js`)) throw new Error('dist/bin/cli.js is missing: build first (npx tsc -p .)');
  sink = net.createServer((socket) => socket.resume());
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', () => resolve()));
  sinkEndpoint = `tcp:127.0.0.1:${(sink.address() as net.AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => sink.close(() => resolve()));
});

describe('ampstate CLI manners', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string };
    expect(await ampstate(['--version'])).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it('ends quietly when the reader of stdout goes away (EPIPE), without a stack', async () => {
    // `ampstate machines --format json | head -c 1`, as a race-free test.
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [AMPSTATE_BIN, 'machines', '--format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      // The reader is gone before the first write: every write fails with EPIPE.
      child.stdout.destroy();
      child.once('close', (code) => resolve({ code, stderr }));
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });

  it('logs JSON lines when stderr is not a terminal, human text with --log-format pretty', async () => {
    const env = { AMPSTATE_TRACE_MACHINES: '1' };
    const json = await ampstate(['call', sinkEndpoint, 'Ping', 'n=1', '--fire'], env);
    const first = json.stderr.split('\n')[0] ?? '';
    expect(JSON.parse(first)).toMatchObject({ component: 'machines', machine: 'connection' });
    const pretty = await ampstate(['--log-format', 'pretty', 'call', sinkEndpoint, 'Ping', 'n=1', '--fire'], env);
    expect(pretty.stderr).toMatch(/INFO \(ampstate\/\d+\): connection: xstate\.init → "connecting"/);
    expect(pretty.stderr.split('\n')[0]).not.toMatch(/^\{/);
  });

  it('AMPSTATE_TRACE_MACHINES=1 alone shows the trace (no log level needed)', async () => {
    const traced = await ampstate(['call', sinkEndpoint, 'Ping', 'n=1', '--fire'], { AMPSTATE_TRACE_MACHINES: '1' });
    expect(traced.stderr).toContain('"component":"machines"');
    const quiet = await ampstate(['call', sinkEndpoint, 'Ping', 'n=1', '--fire'], { AMPSTATE_TRACE_MACHINES: undefined });
    expect(quiet.stderr).not.toContain('"component":"machines"');
  });

  it('a refused connection is one line without a stack (exit 2)', async () => {
    const run = await ampstate(['call', 'tcp:127.0.0.1:1', 'Ping']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('trial without a usable Python names --python and AMPSTATE_PYTHON in one line', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'ampstate-cli-'));
    try {
      for (const env of [{ AMPSTATE_PYTHON: '/nonexistent/python' }, { AMPSTATE_PYTHON: '/bin/false' }]) {
        const run = await runCli(AMPSTATE_BIN, ['trial', 'some.tests'], { cwd: directory, env: { ...env, AMPSTATE_LOG_LEVEL: process.env.AMPSTATE_LOG_LEVEL } });
        expect(run.code).toBe(2);
        expect(run.stderr.trim().split('\n')).toHaveLength(1);
        expect(run.stderr).toContain('--python');
        expect(run.stderr).toContain('AMPSTATE_PYTHON');
        expect(run.stderr).not.toContain('Traceback');
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('a foreground worker stops when its parent dies without signalling it, as `npx` leaves it', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'ampstate-orphan-'));
    try {
      writeFileSync(join(directory, 'pw'), 'secret\n');
      const worker = `"${process.execPath}" "${AMPSTATE_BIN}" worker --master tcp:127.0.0.1:1 --name w --password-file pw --basedir wb`;
      // The shell prints the worker's pid and waits for it, as npm exec's shell does.
      const shell = spawn('sh', ['-c', `${worker} >/dev/null 2>&1 & echo $!; wait`], { cwd: directory, stdio: ['ignore', 'pipe', 'ignore'] });
      const pid = Number(await new Promise<string>((resolve) => shell.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString()))));
      const alive = () => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(alive()).toBe(true);
      shell.kill('SIGKILL');
      const deadline = Date.now() + 10_000;
      while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      const stillAlive = alive();
      if (stillAlive) process.kill(pid, 'SIGKILL');
      expect(stillAlive).toBe(false);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }, 20_000);

  it('refuses bad typed values before connecting (exit 2, one line)', async () => {
    for (const field of ['n:int=abc', 'n:bool=maybe', 'n:json=[1,', 'n:nosuch=1', 'n:datetime=yesterday']) {
      const run = await ampstate(['call', 'tcp:127.0.0.1:1', 'Ping', field]);
      expect(run.code, field).toBe(2);
      expect(run.stderr, field).not.toContain('could not connect');
      expect(run.stderr.trim().split('\n'), field).toHaveLength(1);
    }
  });
});

describeInterop('ampstate call typed values against a Twisted server', () => {
  let server: PythonServer;
  let endpoint: string;
  let directory: string;
  let schema: string;

  beforeAll(async () => {
    server = await startPythonServer();
    endpoint = `tcp:127.0.0.1:${server.port}`;
    directory = mkdtempSync(join(tmpdir(), 'ampstate-schema-'));
    schema = join(directory, 'commands.json');
    writeFileSync(
      schema,
      JSON.stringify({
        Types: {
          arguments: { li: 'ListOf(Integer)', fl: 'Float?', b: 'Boolean?', d: 'Decimal?', t: 'DateTime?', al: { AmpList: { a: 'Integer', b: 'Unicode?' }, optional: true } },
          response: { li: { ListOf: 'Integer' }, fl: 'Float', b: 'Boolean', d: 'Decimal', t: 'DateTime', al: { AmpList: [['a', 'Integer'], ['b', 'Unicode', true]] } },
        },
      }),
    );
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('key:TYPE= values reach Twisted as those types (it decodes them, then echoes them)', async () => {
    const run = await ampstate([
      'call', endpoint, 'Types',
      'i:int=7', 'fl:float=1.5', 'b:bool=true', 'd:decimal=1.10', 't:datetime=2020-01-02T03:04:05Z',
      'li:json=[1,2,3]', 'al:json=[{"a":1,"b":"x"}]',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // Without a schema the answer is raw: Twisted's own encodings of what it decoded.
    expect(JSON.parse(run.stdout)).toMatchObject({ i: '7', fl: '1.5', b: 'True', d: '1.10', t: '2020-01-02T03:04:05.000000-00:00', li: '\u0000\u00011\u0000\u00012\u0000\u00013' });
  });

  it('--schema encodes plain key=value with the declared types and decodes the answer', async () => {
    const run = await ampstate(['call', '--schema', schema, endpoint, 'Types', 'li=1,2,3', 'fl=2.5', 'b=false', 'd=3.14', 'al=[{"a":5}]']);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ li: [1, 2, 3], fl: 2.5, b: false, d: '3.14', al: [{ a: 5 }] });
  });

  it('--schema refuses a missing, unknown or malformed argument, or an undeclared command, before sending (exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [['Types', 'fl=1'], /missing argument li/],
      [['Types', 'li=1', 'zz=2'], /"zz" is not an argument of this command/],
      [['Types', 'li=1,x'], /li\[1\]: "x" is not an integer/],
      [['Nope'], /does not declare the command "Nope"/],
    ];
    const before = server.stderr().split('connection established').length;
    for (const [args, message] of cases) {
      const run = await ampstate(['call', '--schema', schema, endpoint, ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(message);
    }
    expect(server.stderr().split('connection established').length).toBe(before);
  });

  it('--help documents the schema format', async () => {
    const run = await ampstate(['call', '--help']);
    expect(run.stdout).toContain('"ListOf(Integer)"');
    expect(run.stdout).toContain('key:TYPE=value');
  });
});
