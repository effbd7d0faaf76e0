/**
 * Worker commands with `confine_to` (docs/master-worker-protocol.md §3.1): symlinks inside the
 * builder directory that lead out, to files, to directories, through chains, dangling, must not
 * let any command read, write, create or delete outside; links that stay inside work. The last
 * block swaps a directory for a link between the check and the use (the resolver's test seam).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { confinementHooks, inPinnedDirectory } from '../../actors/confined-path.js';
import { assertPhysicallyInside, openConfined } from '../../actors/master/confine.js';
import { PathEscapeError } from '../../actors/master/errors.js';
import type { UpdateEntry } from '../../actors/worker/commands/command.js';
import { startCommand } from '../../actors/worker/commands/registry.js';
import { temporaryDirectory } from '../support/temp-directory.js';
import { FakeMaster } from '../worker-commands/harness.js';

let base: string;
let outside: string;

/** Everything under `outside`, with file contents: must be the same after every refused command. */
function outsideSnapshot(): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const name of readdirSync(outside, { recursive: true }).map(String).sort()) {
    const path = join(outside, name);
    entries[name] = existsSync(path) && !readdirSafe(path) ? readFileSync(path, 'utf8') : '<dir>';
  }
  return entries;
}

function readdirSafe(path: string): boolean {
  try {
    readdirSync(path);
    return true;
  } catch {
    return false;
  }
}

beforeEach(() => {
  const root = temporaryDirectory('ampstate-confine-');
  base = join(root, 'base');
  outside = join(root, 'outside');
  mkdirSync(join(outside, 'sub'), { recursive: true });
  writeFileSync(join(outside, 'secret.txt'), 'top secret');
  writeFileSync(join(outside, 'sub', 'victim'), 'keep me');
  mkdirSync(join(base, 'real-dir'), { recursive: true });
  writeFileSync(join(base, 'real-dir', 'f.txt'), 'inside');
  symlinkSync(outside, join(base, 'out-dir'));
  symlinkSync(join(outside, 'secret.txt'), join(base, 'out-file'));
  symlinkSync('chain2', join(base, 'chain1'));
  symlinkSync('../outside', join(base, 'chain2'));
  symlinkSync(join(outside, 'new-file'), join(base, 'dangling-out'));
  symlinkSync('inside-new', join(base, 'dangling-in'));
  symlinkSync('real-dir', join(base, 'in-dir'));
  symlinkSync('in-dir', join(base, 'in-chain'));
  symlinkSync(join(base, 'real-dir', 'f.txt'), join(base, 'in-file'));
  symlinkSync('loop2', join(base, 'loop1'));
  symlinkSync('loop1', join(base, 'loop2'));
});

afterEach(() => {
  confinementHooks.afterCheck = undefined;
});

interface Outcome {
  readonly error: unknown;
  readonly updates: Map<string, unknown>;
  readonly master: FakeMaster;
}

async function run(name: string, args: Record<string, unknown>, master = new FakeMaster()): Promise<Outcome> {
  const command = startCommand(name, { ...args, confine_to: base }, master, { basedir: base, environ: { ...process.env } });
  let error: unknown;
  await command.done.catch((caught: unknown) => (error = caught));
  const updates = new Map<string, unknown>();
  for (const [key, value] of master.updates as UpdateEntry[]) updates.set(key, value);
  return { error, updates, master };
}

const inBase = (...parts: string[]) => join(base, ...parts);

/** Each command with arguments reaching outside through a link: refused, nothing outside changed. */
const ESCAPES: ReadonlyArray<[string, () => Record<string, unknown>]> = [
  ['mkdir through a directory link', () => ({ paths: [inBase('out-dir', 'made')] })],
  ['mkdir through a chain of links', () => ({ paths: [inBase('chain1', 'made')] })],
  ['mkdir through a dangling link out', () => ({ paths: [inBase('dangling-out')] })],
  ['rmdir below a directory link', () => ({ paths: [inBase('out-dir', 'sub')] })],
  ['rmdir below a chain', () => ({ paths: [inBase('chain1', 'sub')] })],
  ['cpdir from below a link', () => ({ from_path: inBase('out-dir', 'sub'), to_path: inBase('copy') })],
  ['cpdir into a link', () => ({ from_path: inBase('real-dir'), to_path: inBase('out-dir', 'copy') })],
  ['cpdir onto a dangling link out', () => ({ from_path: inBase('real-dir'), to_path: inBase('dangling-out') })],
  ['rmfile below a directory link', () => ({ path: inBase('out-dir', 'secret.txt') })],
  ['rmfile below a chain', () => ({ path: inBase('chain1', 'sub', 'victim') })],
  ['stat of a file link', () => ({ path: inBase('out-file') })],
  ['stat below a chain', () => ({ path: inBase('chain1', 'secret.txt') })],
  ['glob below a directory link', () => ({ path: inBase('out-dir', '*') })],
  ['listdir of a directory link', () => ({ path: inBase('out-dir') })],
  ['listdir of a chain', () => ({ path: inBase('chain1') })],
  ['upload_file of a file link', () => ({ path: inBase('out-file'), blocksize: 16 })],
  ['upload_file below a chain', () => ({ path: inBase('chain1', 'secret.txt'), blocksize: 16 })],
  ['upload_directory of a directory link', () => ({ path: inBase('out-dir'), blocksize: 16 })],
  ['download_file below a directory link', () => ({ path: inBase('out-dir', 'dropped'), blocksize: 16 })],
  ['download_file onto a dangling link out', () => ({ path: inBase('dangling-out'), blocksize: 16 })],
  ['download_file onto a file link out', () => ({ path: inBase('out-file'), blocksize: 16 })],
];

describe('links leading out of confine_to are refused', () => {
  it.each(ESCAPES)('%s', async (description, args) => {
    const name = description.split(' ')[0] as string;
    const before = outsideSnapshot();
    const master = new FakeMaster();
    master.readerData = Buffer.from('planted');
    const { error } = await run(name, args(), master);
    expect(error).toBeInstanceOf(PathEscapeError);
    expect((error as PathEscapeError).code).toBe('WORKER_ERR_PATH_ESCAPE');
    expect((error as Error).message).toMatch(/^path '.+' escapes its base directory '.+base'$/);
    expect(outsideSnapshot()).toEqual(before);
    expect(master.uploaded.length).toBe(0);
    expect(master.calls.filter((call) => call.startsWith('read'))).toEqual([]);
  });

  it('a refusal is one warn line without a stack', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const command = startCommand('listdir', { path: inBase('chain1'), confine_to: base }, new FakeMaster(), { basedir: base, environ: {}, logger });
    await expect(command.done).rejects.toBeInstanceOf(PathEscapeError);
    const warnings = lines.filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: 'WORKER_ERR_PATH_ESCAPE', path: inBase('chain1'), base });
    expect(JSON.stringify(lines)).not.toContain('stack');
  });

  it('glob drops matches reached through a link out, keeps those inside', async () => {
    const { error, updates } = await run('glob', { path: inBase('*', 'f.txt') });
    expect(error).toBeUndefined();
    expect((updates.get('files') as string[]).sort()).toEqual([inBase('in-chain', 'f.txt'), inBase('in-dir', 'f.txt'), inBase('real-dir', 'f.txt')]);
    const secrets = await run('glob', { path: inBase('*', 'secret.txt') });
    expect(secrets.updates.get('files')).toEqual([]);
  });

  it('a loop of links is an ELOOP failure, not a hang', async () => {
    const { error, updates } = await run('mkdir', { paths: [inBase('loop1', 'x')] });
    expect(error).toBeUndefined();
    expect(updates.get('rc')).toBe(40);
    expect(updates.get('header')).toMatch(/^mkdir: Too many levels of symbolic links: /);
  });
});

describe('links that stay inside are allowed', () => {
  it('mkdir, stat, listdir and glob through links inside', async () => {
    expect((await run('mkdir', { paths: [inBase('in-chain', 'made', 'deeper')] })).updates.get('rc')).toBe(0);
    expect(existsSync(inBase('real-dir', 'made', 'deeper'))).toBe(true);
    const stat = await run('stat', { path: inBase('in-file') });
    expect((stat.updates.get('stat') as number[])[6]).toBe('inside'.length);
    expect((await run('listdir', { path: inBase('in-dir') })).updates.get('files')).toEqual(expect.arrayContaining(['f.txt', 'made']));
  });

  it('rmfile and rmdir of a link out remove the link, never its target', async () => {
    expect((await run('rmfile', { path: inBase('out-file') })).updates.get('rc')).toBe(0);
    expect((await run('rmdir', { paths: [inBase('out-dir')], logEnviron: false })).updates.get('rc')).toBe(0);
    expect(existsSync(inBase('out-file')) || existsSync(inBase('out-dir'))).toBe(false);
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
    expect(existsSync(join(outside, 'sub', 'victim'))).toBe(true);
  });

  it('cpdir and rmdir through links inside', async () => {
    mkdirSync(inBase('src'));
    writeFileSync(inBase('src', 'a.txt'), 'a');
    expect((await run('cpdir', { from_path: inBase('src'), to_path: inBase('in-chain', 'copy'), logEnviron: false })).updates.get('rc')).toBe(0);
    expect(readFileSync(inBase('real-dir', 'copy', 'a.txt'), 'utf8')).toBe('a');
    expect((await run('rmdir', { paths: [inBase('in-dir', 'copy')], logEnviron: false })).updates.get('rc')).toBe(0);
    expect(existsSync(inBase('real-dir', 'copy'))).toBe(false);
    // rmdir renames the entry before removing it: nothing may be left under the new name.
    expect(readdirSync(inBase('real-dir'))).toEqual(['f.txt']);
  });

  it('rmdir of a missing path succeeds, as rm -rf does', async () => {
    expect((await run('rmdir', { paths: [inBase('real-dir', 'never-made')], logEnviron: false })).updates.get('rc')).toBe(0);
  });

  it('uploads read and downloads write through links inside', async () => {
    const upload = await run('upload_file', { path: inBase('in-file'), blocksize: 4 });
    expect(upload.error).toBeUndefined();
    expect(upload.master.uploaded.toString()).toBe('inside');
    const directory = await run('upload_directory', { path: inBase('in-chain'), blocksize: 1024 });
    expect(directory.error).toBeUndefined();
    expect(directory.master.calls).toContain('unpack');
    const master = new FakeMaster();
    master.readerData = Buffer.from('fetched');
    const download = await run('download_file', { path: inBase('dangling-in'), blocksize: 16 }, master);
    expect(download.error).toBeUndefined();
    expect(readFileSync(inBase('inside-new'), 'utf8')).toBe('fetched');
  });
});

describe('a directory swapped for a link after the check', () => {
  /** Once the next check has passed, `directory` becomes a link to `target` (the old one kept aside). */
  function swapAfterCheck(directory: string, target: string): void {
    let swapped = false;
    confinementHooks.afterCheck = () => {
      if (swapped) return;
      swapped = true;
      renameSync(directory, `${directory}.moved`);
      symlinkSync(target, directory);
    };
  }

  beforeEach(() => {
    mkdirSync(inBase('d'));
    writeFileSync(inBase('d', 'secret.txt'), 'decoy');
    writeFileSync(inBase('d', 'victim'), 'inside victim');
  });

  it.each<[string, () => Record<string, unknown>, () => string]>([
    ['listdir', () => ({ path: inBase('d') }), () => outside],
    ['stat', () => ({ path: inBase('d', 'secret.txt') }), () => outside],
    ['rmfile', () => ({ path: inBase('d', 'victim') }), () => join(outside, 'sub')],
    ['rmdir', () => ({ paths: [inBase('d', 'victim')] }), () => join(outside, 'sub')],
    ['mkdir', () => ({ paths: [inBase('d', 'made')] }), () => outside],
    ['upload_file', () => ({ path: inBase('d', 'secret.txt'), blocksize: 64 }), () => outside],
    ['upload_directory', () => ({ path: inBase('d'), blocksize: 64 }), () => outside],
    ['download_file', () => ({ path: inBase('d', 'dropped'), blocksize: 64 }), () => outside],
  ])('%s is caught at the use and touches nothing outside', async (name, args, target) => {
    const before = outsideSnapshot();
    swapAfterCheck(inBase('d'), target());
    const master = new FakeMaster();
    master.readerData = Buffer.from('planted');
    const { error, updates } = await run(name, args(), master);
    expect(error).toBeInstanceOf(PathEscapeError);
    expect(outsideSnapshot()).toEqual(before);
    expect(master.uploaded.length).toBe(0);
    expect(updates.has('files') || updates.has('stat')).toBe(false);
  });

  it.runIf(existsSync('/proc/self/fd'))('a pinned directory stays the one checked, even if swapped while in use', async () => {
    await inPinnedDirectory(base, inBase('d'), async (pinned) => {
      renameSync(inBase('d'), inBase('d.moved'));
      symlinkSync(outside, inBase('d'));
      writeFileSync(join(pinned, 'made-here'), 'x');
    });
    expect(existsSync(inBase('d.moved', 'made-here'))).toBe(true);
    expect(existsSync(join(outside, 'made-here'))).toBe(false);
  });

  it('the master opens a transfer source only once it is proved inside', async () => {
    swapAfterCheck(inBase('d'), outside);
    await expect(openConfined(inBase('d', 'secret.txt'), base, 'r')).rejects.toBeInstanceOf(PathEscapeError);
  });
});

describe('master-side physical check', () => {
  it('refuses a dangling link out, through which a file would be created outside', async () => {
    await expect(assertPhysicallyInside(inBase('dangling-out'), base)).rejects.toBeInstanceOf(PathEscapeError);
    await expect(assertPhysicallyInside(inBase('dangling-in'), base)).resolves.toBeUndefined();
    await expect(assertPhysicallyInside(inBase('chain1', 'x'), base)).rejects.toBeInstanceOf(PathEscapeError);
  });
});
