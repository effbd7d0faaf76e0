/**
 * Every fenced code block of README.md works as shown.
 *
 * - `ts` blocks are compiled together under a strict tsconfig against the built package (they
 *   import `ampstate` by name, which resolves to dist/ through the package's own "exports"), then
 *   run one by one with node; they talk only to loopback and must exit 0.
 * - `sh` blocks: `ampstate --version`, `--help` and `machines` run; other `ampstate` invocations
 *   are checked against the subcommand's `--help` (the subcommand exists, every option is listed);
 *   `npm` lines must name existing scripts; other tools are checked the same way where installed.
 * - `mermaid` blocks must sit in the generated Machines section (test/machines/readme-diagrams
 *   checks them).
 *
 * An HTML comment on the line before a block changes how it is tested:
 * `<!-- test: compile-only (why) -->`, `<!-- test: run when Twisted is installed -->`,
 * `<!-- test: prints TEXT -->` (stdout must contain TEXT), `<!-- test: skip (why) -->`.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractCodeBlocks, type CodeBlock } from '../support/readme-blocks.js';
import { STRICT_CONSUMER_OPTIONS } from '../support/strict-consumer.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(REPO, 'bin', 'ampstate.js');
const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; scripts: Record<string, string> };

const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
const blocks = extractCodeBlocks(readme);
const typescriptBlocks = blocks.filter((block) => block.language === 'ts');
const shellBlocks = blocks.filter((block) => block.language === 'sh');
const label = (block: CodeBlock) => `README.md:${block.line} ${block.code.split('\n').find((line) => line.trim() !== '' && !line.startsWith('import'))?.trim().slice(0, 60) ?? ''}`;

/** The interpreter the README's trial example names: Debian's, where python3-twisted installs Twisted. */
const twistedInstalled = spawnSync('/usr/bin/python3', ['-c', 'import twisted'], { stdio: 'ignore' }).status === 0;

it('has only ts, sh and (generated) mermaid blocks, each with a known test directive', () => {
  expect(blocks.length).toBeGreaterThan(10);
  for (const block of blocks) {
    const where = `README.md:${block.line}`;
    if (block.language === 'mermaid') expect(block.generated, `${where}: a mermaid block outside the generated section`).toBe(true);
    else expect(['ts', 'sh'], `${where}: a block of language "${block.language}" has no test`).toContain(block.language);
    if (block.directive !== undefined) expect(block.directive, where).toMatch(/^(compile-only|skip) \(.+\)$|^run when Twisted is installed$|^prints .+$/);
  }
});

describe('README TypeScript blocks', () => {
  let directory: string;
  let compileErrors = '';

  beforeAll(async () => {
    if (!existsSync(join(REPO, 'dist', 'index.d.ts'))) throw new Error('dist/ is missing: build first (npx tsc -p .)');
    // Inside the repository, so that `import 'ampstate'` resolves to this package (self-reference);
    // tmp/ is ignored by git.
    mkdirSync(join(REPO, 'tmp'), { recursive: true });
    directory = mkdtempSync(join(REPO, 'tmp', 'readme-blocks-'));
    writeFileSync(
      join(directory, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { ...STRICT_CONSUMER_OPTIONS, typeRoots: [join(REPO, 'node_modules', '@types')], rootDir: '.' },
        include: ['*.mts'],
      }),
    );
    for (const block of typescriptBlocks) writeFileSync(join(directory, `line-${block.line}.mts`), block.code + '\n');
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    compileErrors = await run(process.execPath, [tsc, '-p', '.'], { cwd: directory }).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
  }, 120_000);

  afterAll(() => {
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  });

  it('compile with no error outside the blocks themselves', () => {
    const blockFile = /^line-\d+\.mts\(/;
    expect(compileErrors.split('\n').filter((line) => line !== '' && !line.startsWith(' ') && !blockFile.test(line))).toEqual([]);
  });

  for (const block of typescriptBlocks) {
    it(`${label(block)} compiles${block.directive?.startsWith('compile-only') ? '' : ' and runs'}`, async () => {
      const errors = compileErrors.split('\n').filter((line) => line.startsWith(`line-${block.line}.mts`));
      expect(errors, 'tsc errors (file names are README line numbers)').toEqual([]);
      expect(existsSync(join(directory, 'out', `line-${block.line}.mjs`)), 'compiled').toBe(true);
      if (block.directive?.startsWith('compile-only')) return;
      if (block.directive === 'run when Twisted is installed' && !twistedInstalled) {
        if (process.env.CI === 'true') throw new Error('/usr/bin/python3 cannot import twisted (apt-get install python3-twisted)');
        console.warn(`${label(block)}: compiled but not run: /usr/bin/python3 has no Twisted`);
        return;
      }
      const program = join(directory, 'out', `line-${block.line}.mjs`);
      const result = await run(process.execPath, [program], { cwd: directory, timeout: 60_000, env: { ...process.env, AMPSTATE_LOG_LEVEL: 'silent' } }).catch(
        (error: { code: unknown; stdout: string; stderr: string }) => ({ failed: error.code, stdout: error.stdout, stderr: error.stderr }),
      );
      expect('failed' in result ? result : 'exit 0').toBe('exit 0');
      const prints = /^prints (.+)$/.exec(block.directive ?? '')?.[1];
      if (prints !== undefined) expect(result.stdout).toContain(prints);
    }, 90_000);
  }
});

/** A shell line's words, honouring single and double quotes (no expansions appear in the README). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) words.push(match[1] ?? match[2] ?? match[3]!);
  return words;
}

/** The commands of a block: continuation lines joined, comments dropped, `a && b` split. */
function shellCommands(code: string): string[][] {
  return code
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.replace(/(^|\s+)#\s.*$/, '').trim())
    .filter((line) => line !== '')
    .flatMap((line) => line.split(' && '))
    .map(shellWords);
}

/** Checks `tool subcommand --opt …` against `tool subcommand --help`: the subcommand exists and knows every option. */
async function checkAgainstHelp(tool: readonly string[], args: readonly string[]): Promise<void> {
  const subcommand = args[0]!;
  const { stdout } = await run(tool[0]!, [...tool.slice(1), subcommand, '--help']);
  expect(stdout, `${subcommand} --help`).toMatch(/usage/i);
  for (const option of args.filter((arg) => arg.startsWith('-'))) expect(stdout, `${subcommand} --help lists ${option}`).toContain(option.split('=')[0]!);
}

async function checkCommand(words: readonly string[]): Promise<void> {
  const [program, ...args] = words;
  if (program === 'npx' && args[0] === manifest.name) return checkCommand(args);
  if (program === manifest.name) {
    const ampstate = [process.execPath, CLI];
    if (args[0] === '--version' || args[0] === '--help' || args[0] === 'machines') {
      const { stdout } = await run(process.execPath, [CLI, ...args]);
      expect(stdout.trim()).not.toBe('');
      return;
    }
    return checkAgainstHelp(ampstate, args);
  }
  if (program === 'npm') {
    if (args[0] === 'install') return expect(args.slice(1)).toEqual([manifest.name]);
    if (args[0] === 'ci') return expect(existsSync(join(REPO, 'package-lock.json'))).toBe(true);
    const script = args[0] === 'run' ? args[1]! : args[0]!;
    return expect(Object.keys(manifest.scripts), `npm ${args.join(' ')}`).toContain(script);
  }
  if (program === 'bash') return expect(existsSync(join(REPO, args[0]!)), args[0]).toBe(true);
  if (program === 'node' && args[0]?.startsWith(`node_modules/${manifest.name}/`)) {
    const file = args[0].slice(`node_modules/${manifest.name}/`.length);
    return expect(existsSync(join(REPO, file)), `${file} (built)`).toBe(true);
  }
  if (program === 'buildbot-worker') {
    if (spawnSync('buildbot-worker', ['--version'], { stdio: 'ignore' }).status !== 0) {
      if (process.env.CI === 'true') throw new Error('buildbot-worker is not installed');
      console.warn('buildbot-worker is not installed: its README lines are not checked');
      return;
    }
    return checkAgainstHelp(['buildbot-worker'], args);
  }
  throw new Error(`no rule to test "${words.join(' ')}": add one here, or a <!-- test: … --> directive`);
}

describe('README shell blocks', () => {
  for (const block of shellBlocks) {
    it(`${label(block)}${block.directive?.startsWith('skip') ? ` (${block.directive})` : ''}`, async () => {
      if (block.directive?.startsWith('skip')) return;
      for (const command of shellCommands(block.code)) await checkCommand(command);
    }, 30_000);
  }
});
