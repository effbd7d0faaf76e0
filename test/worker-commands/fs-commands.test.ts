import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectCommand, removeDir, tempDir, waitForUpdate } from './harness.js';

let root: string;

beforeEach(() => {
  root = tempDir();
});

afterEach(() => removeDir(root));

function python(code: string, ...args: string[]): unknown {
  const result = spawnSync('python3', ['-c', code, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout);
}

/** A `bin` dir with shell scripts that shadow real tools through PATH. */
function fakeTools(tools: Record<string, string>): NodeJS.ProcessEnv {
  const bin = join(root, 'fakebin');
  mkdirSync(bin, { recursive: true });
  for (const [name, body] of Object.entries(tools)) {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> "$TOOL_LOG"\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  return { PATH: `${bin}:${process.env['PATH']}`, TOOL_LOG: join(root, 'tools.log'), STATE: join(root, 'state') };
}

function helperPreamble(argv: string, argvRepr: string): RegExp {
  const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(
    `^${escaped(argv)}\\n in dir ${escaped(root)} \\(timeout 120 secs\\)\\n watching logfiles \\{\\}\\n argv: ${escaped(argvRepr)}\\n using PTY: False\\n`,
  );
}

describe('mkdir', () => {
  it('creates nested directories and accepts existing ones', async () => {
    const nested = join(root, 'a', 'b', 'c');
    mkdirSync(join(root, 'existing'));
    await expectCommand('mkdir', { paths: [nested, join(root, 'existing')] }).rc(0).elapsed().run();
    expect(statSync(nested).isDirectory()).toBe(true);
  });

  it('reports EEXIST for a file in the way and stops at the first failure', async () => {
    const file = join(root, 'file');
    writeFileSync(file, '');
    await expectCommand('mkdir', { paths: [file, join(root, 'never')] })
      .rc(17)
      .elapsed()
      .header(`mkdir: File exists: ${file}\n`)
      .run();
    expect(existsSync(join(root, 'never'))).toBe(false);
  });

  it('reports ENOTDIR below a file', async () => {
    writeFileSync(join(root, 'file'), '');
    const path = join(root, 'file', 'sub');
    await expectCommand('mkdir', { paths: [path] }).rc(20).elapsed().header(`mkdir: Not a directory: ${path}\n`).run();
  });
});

describe('rmdir', () => {
  it('runs rm -rf in the basedir with shell-style headers and reports rc 0', async () => {
    const tree = join(root, 'tree');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    writeFileSync(join(tree, 'sub', 'f'), 'x');
    chmodSync(join(tree, 'sub'), 0o000);
    const missing = join(root, 'missing');
    await expectCommand('rmdir', { paths: [tree, missing], logEnviron: false })
      .withEnv({ basedir: root })
      .header(
        (text) =>
          helperPreamble(`rm -rf ${tree}`, `[b'rm', b'-rf', b'${tree}']`).test(text) &&
          text.includes(`rm -rf ${missing}\n`) &&
          (text.match(/elapsedTime=\d+\.\d{6}\n/g) ?? []).length === 2,
      )
      .rc(0)
      .elapsed()
      .run();
    expect(existsSync(tree)).toBe(false);
  });

  it('retries after a recursive chmod when rm fails', async () => {
    const environ = fakeTools({
      rm: 'if [ ! -e "$STATE" ]; then : > "$STATE"; echo "rm: cannot remove" >&2; exit 1; fi\nexec /bin/rm "$@"',
      chmod: 'exit 0',
    });
    const target = join(root, 'target');
    mkdirSync(target);
    await expectCommand('rmdir', { paths: [target], logEnviron: false, timeout: null })
      .withEnv({ basedir: root, environ })
      .loosely()
      .stderr('rm: cannot remove\n')
      .header(/chmod -Rf u\+rwx /)
      .rc(0)
      .elapsed()
      .run();
    expect(readFileSync(environ['TOOL_LOG'] as string, 'utf8')).toBe(`rm -rf ${target}\nchmod -Rf u+rwx ${target}\nrm -rf ${target}\n`);
    expect(existsSync(target)).toBe(false);
  });

  it('reports the rc of the failing path but still removes the others', async () => {
    const environ = fakeTools({ rm: 'case "$2" in *bad) exit 3;; esac\nexec /bin/rm "$@"', chmod: 'exit 0' });
    const good = join(root, 'good');
    mkdirSync(good);
    await expectCommand('rmdir', { paths: [join(root, 'bad'), good], logEnviron: false })
      .withEnv({ basedir: root, environ })
      .loosely()
      .rc(3)
      .elapsed()
      .run();
    expect(existsSync(good)).toBe(false);
  });

  it('an interrupt does not stop rm but drops the final rc and elapsed', async () => {
    const environ = fakeTools({ rm: 'echo started\nsleep 0.5\nexec /bin/rm "$@"' });
    const target = join(root, 'slow');
    mkdirSync(target);
    const { merged } = await expectCommand('rmdir', { paths: [target], logEnviron: false })
      .withEnv({ basedir: root, environ })
      .during(async (command, master) => {
        await waitForUpdate(master, ([key]) => key === 'stdout');
        command.interrupt('stop');
      })
      .header(/^rm -rf /)
      .stdout('started\n')
      .elapsedTime()
      .run();
    expect(existsSync(target)).toBe(false);
    expect(merged.some(([key]) => key === 'rc' || key === 'elapsed')).toBe(false);
  });
});

describe('cpdir', () => {
  it('copies with cp -R -P -p -v, creating the parent of the target', async () => {
    const source = join(root, 'src');
    mkdirSync(join(source, 'sub'), { recursive: true });
    writeFileSync(join(source, 'sub', 'file'), 'data');
    symlinkSync('sub/file', join(source, 'link'));
    const target = join(root, 'deeper', 'dst');
    await expectCommand('cpdir', { from_path: source, to_path: target, logEnviron: false })
      .withEnv({ basedir: root })
      .header(helperPreamble(`cp -R -P -p -v ${source} ${target}`, `[b'cp', b'-R', b'-P', b'-p', b'-v', b'${source}', b'${target}']`))
      .stdout((text) => text.includes(`'${source}/sub/file' -> '${target}/sub/file'\n`))
      .elapsedTime()
      .rc(0)
      .elapsed()
      .run();
    expect(readFileSync(join(target, 'sub', 'file'), 'utf8')).toBe('data');
    expect(readlinkSync(join(target, 'link'))).toBe('sub/file');
  });

  it("reports cp's rc when the source is missing", async () => {
    await expectCommand('cpdir', { from_path: join(root, 'nope'), to_path: join(root, 'dst'), logEnviron: false })
      .withEnv({ basedir: root })
      .header(/^cp -R/)
      .stderr(/cannot stat/)
      .elapsedTime()
      .rc(1)
      .elapsed()
      .run();
  });
});

describe('stat', () => {
  it('sends the ten os.stat fields exactly as Python does', async () => {
    const file = join(root, 'file');
    writeFileSync(file, 'twelve bytes');
    chmodSync(file, 0o640);
    const expected = python('import os, sys, json; print(json.dumps(list(os.stat(sys.argv[1]))))', file);
    await expectCommand('stat', { path: file }).update('stat', expected).rc(0).elapsed().run();
  });

  it('reports ENOENT as rc 2 with a header', async () => {
    const path = join(root, 'missing');
    await expectCommand('stat', { path }).rc(2).elapsed().header(`stat: No such file or directory: ${path}\n`).run();
  });
});

describe('listdir', () => {
  it('sends the names', async () => {
    for (const name of ['b', 'a', '.hidden']) writeFileSync(join(root, name), '');
    const { merged } = await expectCommand('listdir', { path: root }).update('files', () => true).rc(0).elapsed().run();
    expect([...(merged[0]?.[1] as string[])].sort()).toEqual(['.hidden', 'a', 'b']);
  });

  it('reports ENOTDIR for a file', async () => {
    const path = join(root, 'file');
    writeFileSync(path, '');
    await expectCommand('listdir', { path }).rc(20).elapsed().header(`listdir: Not a directory: ${path}\n`).run();
  });
});

describe('rmfile', () => {
  it('removes a file', async () => {
    const path = join(root, 'file');
    writeFileSync(path, '');
    await expectCommand('rmfile', { path }).rc(0).elapsed().run();
    expect(existsSync(path)).toBe(false);
  });

  it('reports ENOENT and EISDIR', async () => {
    const missing = join(root, 'missing');
    await expectCommand('rmfile', { path: missing }).rc(2).elapsed().header(`rmfile: No such file or directory: ${missing}\n`).run();
    await expectCommand('rmfile', { path: root }).rc(21).elapsed().header(`rmfile: Is a directory: ${root}\n`).run();
  });
});

describe('glob', () => {
  it('matches what Python glob(recursive=True) matches', async () => {
    for (const dir of ['a/b/c', 'a/.hid', 'x']) mkdirSync(join(root, dir), { recursive: true });
    for (const file of ['a/f.txt', 'a/b/g.txt', 'a/b/c/h.log', 'a/.hid/i.txt', 'x/.dot.txt', 'x/[x].txt', 'top.txt']) {
      writeFileSync(join(root, file), '');
    }
    symlinkSync('nowhere', join(root, 'a', 'broken.txt'));
    const patterns = ['**', '**/*.txt', 'a/**', 'a/**/', 'a/*/*.txt', 'x/.*', 'x/[[]x].txt', 'x/[!a]*', '*/b', 'a/broken.txt', 'nothing/*', 'a/b/c/h.lo?'];
    const absolute = patterns.map((relative) => join(root, relative));
    const pythonResults = python(
      'import glob, sys, json; print(json.dumps([glob.glob(p, recursive=True) for p in sys.argv[1:]]))',
      ...absolute,
    ) as string[][];
    // Sanity check of the fixture: a/f, a/b/g, x/[x], top and the broken link.
    expect(pythonResults[1]?.length).toBe(5);
    for (const [index, relative] of patterns.entries()) {
      const pattern = join(root, relative);
      const expected = pythonResults[index] as string[];
      const { merged } = await expectCommand('glob', { path: pattern }).update('files', () => true).rc(0).elapsed().run();
      expect([...(merged[0]?.[1] as string[])].sort(), relative).toEqual([...expected].sort());
    }
  });
});
