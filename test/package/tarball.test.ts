/**
 * ampstate as a user gets it: the tarball `npm pack` makes, installed into a fresh project with
 * nothing but `typescript` and `@types/node` beside it. Every entry point must type-check under a
 * strict `tsc` that also checks the package's own .d.ts files (no skipLibCheck), and run, both as
 * ESM (`import`) and as CommonJS (`require`, which Node supports for ES modules from 20.19).
 *
 * The tarball is packed from the built dist/ (`npm ci` or `npx tsc -p .` builds it).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractCodeBlocks } from '../support/readme-blocks.js';
import { STRICT_CONSUMER_OPTIONS } from '../support/strict-consumer.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  exports: Record<string, unknown>;
  devDependencies: Record<string, string>;
};
const SETUP_TIMEOUT_MS = 240_000;

/**
 * One small program per entry point. Each is written twice, as .mts and .cts: the same imports
 * compile to `import` in one and to `require` in the other.
 */
const programs: Record<string, { readonly source: string; readonly prints: string }> = {
  root: {
    prints: 'hi é',
    source: `
import type { AddressInfo } from 'node:net';
import { amp, connect, defineCommand, listen, responders } from 'ampstate';

const Hello = defineCommand({ name: 'Hello', arguments: { name: amp.Unicode }, response: { greeting: amp.Unicode } });

export async function main(): Promise<string> {
  const server = await listen('tcp:0:interface=127.0.0.1', {
    responders: () => responders().on(Hello, async ({ name }) => ({ greeting: 'hi ' + name })),
  });
  const connection = await connect('tcp:127.0.0.1:' + (server.address as AddressInfo).port);
  const { greeting } = await connection.callRemote(Hello, { name: 'é' });
  connection.close();
  await server.close({ closeConnections: true });
  return greeting;
}
`,
  },
  master: {
    prints: 'WORKER_ERR_PATH_ESCAPE shell',
    source: `
import { PathEscapeError, RemoteCommand, confinePath } from 'ampstate/master';

export async function main(): Promise<string> {
  const shell = new RemoteCommand('shell', { command: 'true', workdir: 'build' });
  try {
    confinePath('../outside', '/srv/artifacts');
    return 'not refused';
  } catch (error) {
    return (error instanceof PathEscapeError ? error.code : String(error)) + ' ' + shell.commandName;
  }
}
`,
  },
  worker: {
    prints: `2 ${manifest.version}`,
    source: `
import { WORKER_EXIT, ampstateVersion } from 'ampstate/worker';

export async function main(): Promise<string> {
  return WORKER_EXIT.config + ' ' + ampstateVersion();
}
`,
  },
  trial: {
    prints: '22.4 function',
    source: `
import { TrialManager, parseWorkerArguments } from 'ampstate/trial';

export async function main(): Promise<string> {
  return parseWorkerArguments(['--dialect', '22.4']).dialect + ' ' + typeof TrialManager;
}
`,
  },
  machines: {
    prints: 'stateDiagram-v2',
    source: `
import { allMachines, toMermaid } from 'ampstate/machines';

export async function main(): Promise<string> {
  const framing = allMachines['framing'];
  return framing === undefined ? 'no framing machine' : toMermaid(framing).split('\\n')[0]!;
}
`,
  },
};

const CALL_MAIN = {
  mts: 'process.stdout.write(await main());\n',
  cts: 'main().then((text) => process.stdout.write(text));\n',
} as const;

let work: string;
let project: string;
let tarball: string;

/**
 * The README's TypeScript examples, as a user copies them into a project that has only the tarball:
 * all must type-check there; those that are whole programs on loopback also run (the trial one
 * needs Debian's Twisted, and compile-only blocks are fragments or servers that run until stopped).
 */
const readmeExamples = extractCodeBlocks(readFileSync(join(REPO, 'README.md'), 'utf8')).filter((block) => block.language === 'ts');
const runnable = (code: string, directive: string | undefined) =>
  !(directive ?? '').startsWith('compile-only') && !code.includes("'ampstate/trial'");

/** What the consumer's `npm install` warned about (stderr), e.g. EBADENGINE. */
let installWarnings = '';

async function npm(args: readonly string[], cwd: string): Promise<string> {
  const { stdout, stderr } = await run('npm', [...args], { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (args[0] === 'install') installWarnings += stderr;
  return stdout;
}

describe('the npm package, installed from its tarball into a fresh project', () => {
  beforeAll(async () => {
    for (const built of ['dist/index.d.ts', 'dist/actors/worker/index.js', 'dist/bin/cli.js']) {
      if (!existsSync(join(REPO, built))) throw new Error(`${built} is missing: build first (npx tsc -p .)`);
    }
    work = mkdtempSync(join(tmpdir(), 'ampstate-tarball-'));
    // The scripts are skipped: dist/ is already built, and `prepare` would rebuild the whole repository.
    const packed = JSON.parse(await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], REPO)) as { filename: string }[];
    tarball = join(work, packed[0]!.filename);
    project = join(work, 'consumer');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    // The repository's own pins, so the cache serves them and the result does not drift.
    await npm(
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        tarball,
        `typescript@${manifest.devDependencies['typescript']}`,
        `@types/node@${manifest.devDependencies['@types/node']}`,
      ],
      project,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: STRICT_CONSUMER_OPTIONS,
      }),
    );
    for (const [name, { source }] of Object.entries(programs)) {
      for (const extension of ['mts', 'cts'] as const) writeFileSync(join(project, `${name}.${extension}`), source + CALL_MAIN[extension]);
    }
    for (const block of readmeExamples) writeFileSync(join(project, `readme-${block.line}.mts`), block.code + '\n');
  }, SETUP_TIMEOUT_MS);

  afterAll(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('exports exactly the documented entry points', () => {
    expect(Object.keys(manifest.exports).sort()).toEqual(['.', './machines', './master', './package.json', './trial', './worker']);
  });

  it('type-checks strictly, the package .d.ts files included', async () => {
    const tsc = join(project, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', '.'], { cwd: project }).catch((error: { stdout: string }) => error);
    expect(result.stdout).toBe('');
  }, 120_000);

  for (const [name, { prints }] of Object.entries(programs)) {
    for (const [extension, output] of [['mts', 'mjs'], ['cts', 'cjs']] as const) {
      it(`runs ${name === 'root' ? 'ampstate' : `ampstate/${name}`} through ${extension === 'mts' ? 'import' : 'require'}`, async () => {
        const program = join(project, 'out', `${name}.${output}`);
        expect(existsSync(program), `${program} was not compiled`).toBe(true);
        const { stdout } = await run(process.execPath, [program], { cwd: project, env: { ...process.env, AMPSTATE_LOG_LEVEL: 'silent' } });
        expect(stdout).toBe(prints);
      }, 30_000);
    }
  }

  for (const block of readmeExamples.filter((example) => runnable(example.code, example.directive))) {
    it(`runs the README example at line ${block.line} from the installed package`, async () => {
      const program = join(project, 'out', `readme-${block.line}.mjs`);
      expect(existsSync(program), `${program} was not compiled`).toBe(true);
      await run(process.execPath, [program], { cwd: project, timeout: 60_000, env: { ...process.env, AMPSTATE_LOG_LEVEL: 'silent' } });
    }, 90_000);
  }

  it('ships the LICENSE and the CLI, and neither source maps nor tests, benchmarks or examples', () => {
    const installed = join(project, 'node_modules', 'ampstate');
    const files = listFiles(installed);
    expect(files).toContain('LICENSE');
    expect(files).toContain('bin/ampstate.js');
    expect(files).toContain('actors/trial/list_tests.py');
    expect(files.filter((file) => file.endsWith('.map'))).toEqual([]);
    expect(files.filter((file) => /^dist\/(test|bench|examples)\//.test(file))).toEqual([]);
  });

  // package.json says Node >= 20: no dependency of the installed tree may ask for more (fastify's
  // light-my-request 6.8 pulls cookie 2, which declares Node >= 22; ampstate pins 6.6, see
  // the README's Layout section).
  it(`installs without an engine warning on Node ${process.versions.node}`, () => {
    expect(installWarnings).not.toMatch(/EBADENGINE/);
  });

  it('installs no package that only the examples use', () => {
    expect(existsSync(join(project, 'node_modules', '@statelyai', 'inspect'))).toBe(false);
  });

  it('runs the CLI from the installed package', async () => {
    const { stdout } = await run(join(project, 'node_modules', '.bin', 'ampstate'), ['--help'], { cwd: project });
    expect(stdout).toContain('Usage: ampstate');
  }, 30_000);
});

function listFiles(root: string, prefix = ''): string[] {
  return readdirSync(join(root, prefix)).flatMap((entry) => {
    const relative = prefix === '' ? entry : `${prefix}/${entry}`;
    return statSync(join(root, relative)).isDirectory() ? listFiles(root, relative) : [relative];
  });
}
