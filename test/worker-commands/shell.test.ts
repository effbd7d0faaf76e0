import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EnvironmentValueError } from '../../actors/worker/commands/errors.js';
import { expectCommand, removeDir, tempDir, waitForUpdate } from './harness.js';

let workdir: string;
let scratch: string;

beforeEach(() => {
  scratch = tempDir();
  workdir = join(scratch, 'build');
});

afterEach(() => removeDir(scratch));

/** The header block Buildbot sends before a process starts, without the environment. */
function preamble(display: string, argvRepr: string, options: { where?: string; logfiles?: string; stdin?: number } = {}): string {
  return (
    `${display}\n` +
    ` in dir ${workdir}${options.where ?? ''}\n` +
    ` watching logfiles ${options.logfiles ?? '{}'}\n` +
    ` argv: ${argvRepr}\n` +
    (options.stdin === undefined ? '' : ` writing ${options.stdin} bytes to stdin\n`) +
    ' using PTY: False\n'
  );
}

describe('shell', () => {
  it('runs a string through /bin/sh and reports the exact header sequence', async () => {
    await expectCommand('shell', { command: 'echo hi', workdir, logEnviron: false })
      .header(preamble('echo hi', "b'echo hi'"))
      .stdout('hi\n')
      .rc(0)
      .elapsedTime()
      .elapsed()
      .run();
  });

  it('execs a list directly and shows it shell-quoted and as Python bytes', async () => {
    await expectCommand('shell', { command: ['printf', '%s|', 'a b', '', "it's"], workdir, logEnviron: false })
      .header(preamble(`printf '%s|' 'a b' "" 'it'"'"'s'`, `[b'printf', b'%s|', b'a b', b'', b"it's"]`))
      .rc(0)
      .elapsedTime()
      .elapsed()
      .stdout("a b||it's|\n")
      .run();
  });

  it('creates a missing workdir, runs in it and sets PWD', async () => {
    const { merged } = await expectCommand('shell', { command: 'pwd; echo "$PWD"', workdir, logEnviron: false })
      .header(/^pwd; echo/)
      .stdout(`${workdir}\n${workdir}\n`)
      .rc(0)
      .elapsedTime()
      .elapsed()
      .run();
    expect(existsSync(workdir)).toBe(true);
    expect(merged).toHaveLength(5);
  });

  it('reports the exit code and both streams', async () => {
    await expectCommand('shell', { command: 'echo out; sleep 0.1; echo err >&2; exit 3', workdir, logEnviron: false })
      .header(/^echo out/)
      .stdout('out\n')
      .stderr('err\n')
      .rc(3)
      .elapsedTime()
      .elapsed()
      .run();
  });

  it('completes a trailing partial line with \\n at the end, after rc', async () => {
    await expectCommand('shell', { command: 'printf "line\\npartial"', workdir, logEnviron: false })
      .header(/^printf/)
      .stdout('line\n')
      .rc(0)
      .elapsedTime()
      .elapsed()
      .stdout('partial\n')
      .run();
  });

  it('normalises CR, CRLF and backspaces into line ends', async () => {
    await expectCommand('shell', { command: "printf 'a\\r\\nb\\rc\\bd\\n'", workdir, logEnviron: false })
      .header(/^printf/)
      .stdout('a\nb\nc\nd\n')
      .rc(0)
      .elapsedTime()
      .elapsed()
      .run();
  });

  it('does not send stdout or stderr that is not wanted', async () => {
    await expectCommand('shell', {
      command: 'echo out; echo err >&2',
      workdir,
      logEnviron: false,
      want_stdout: false,
      want_stderr: 0,
    })
      .header(/^echo out/)
      .rc(0)
      .elapsedTime()
      .elapsed()
      .run();
  });

  it('writes initial_stdin and closes stdin', async () => {
    await expectCommand('shell', { command: 'cat; echo done', workdir, logEnviron: false, initial_stdin: 'héllo\n' })
      .header(preamble('cat; echo done', "b'cat; echo done'", { stdin: 7 }))
      .stdout('héllo\ndone\n')
      .rc(0)
      .elapsedTime()
      .elapsed()
      .run();
  });

  it('closes stdin even without initial_stdin', async () => {
    await expectCommand('shell', { command: 'cat; echo eof', workdir, logEnviron: false, timeout: 5 })
      .header(/\(timeout 5 secs\)/)
      .stdout('eof\n')
      .rc(0)
      .elapsedTime()
      .elapsed()
      .run();
  });

  it('shows timeout and maxTime in the dir header, with the singular unit for 1', async () => {
    await expectCommand('shell', { command: 'true', workdir, logEnviron: false, timeout: 1, maxTime: 30 })
      .header(preamble('true', "b'true'", { where: ' (timeout 1 sec) (maxTime 30 secs)' }))
      .rc(0)
      .elapsedTime()
      .elapsed()
      .run();
  });

  it('sends the sorted environment when logEnviron is on', async () => {
    const { merged } = await expectCommand('shell', { command: 'true', workdir })
      .withEnv({ environ: { ZED: 'last', ALPHA: 'first', PATH: process.env['PATH'] } })
      .header(/ environment:\n {2}ALPHA=first\n {2}PATH=.*\n {2}PWD=.*\n {2}ZED=last\n using PTY: False\n$/)
      .rc(0)
      .elapsedTime()
      .elapsed()
      .run();
    expect(merged[0]?.[1]).toContain(`  PWD=${workdir}\n`);
  });

  it('warns that usePTY is not available', async () => {
    await expectCommand('shell', { command: 'true', workdir, logEnviron: false, usePTY: true })
      .header(/^WARNING: disabling usePTY for this command\ntrue\n/)
      .rc(0)
      .elapsedTime()
      .elapsed()
      .run();
  });

  it('reports a missing executable on stderr with rc 1', async () => {
    await expectCommand('shell', { command: ['/nonexistent/tool', '-x'], workdir, logEnviron: false })
      .header(/^\/nonexistent\/tool -x\n/)
      .stderr("cannot execute '/nonexistent/tool': [Errno 2] No such file or directory\n")
      .rc(1)
      .elapsedTime()
      .elapsed()
      .run();
  });

  it('runs obfuscated arguments but displays the fake text', async () => {
    await expectCommand('shell', { command: ['echo', ['obfuscated', 'secret', 'XXXX']], workdir, logEnviron: false })
      .header(preamble('echo XXXX', "[b'echo', b'XXXX']"))
      .stdout('secret\n')
      .rc(0)
      .elapsedTime()
      .elapsed()
      .run();
  });
});

describe('shell env rules', () => {
  const baseEnviron = { PATH: process.env['PATH'], KEEP: 'kept', DROP: 'dropped', PYTHONPATH: '/worker/lib' };

  it('deletes null, joins lists with ":", expands ${VAR} from the original environ, and extends PYTHONPATH', async () => {
    await expectCommand('shell', {
      command: 'echo "$KEEP|${DROP-unset}|$LIST|$EXPANDED|$PYTHONPATH"',
      workdir,
      logEnviron: false,
      env: {
        DROP: null,
        LIST: ['a', 'b', 'c'],
        KEEP: 'changed',
        EXPANDED: '${KEEP}-${MISSING}-${DROP}',
        PYTHONPATH: '/step/lib',
      },
    })
      .withEnv({ environ: baseEnviron })
      .header(/^echo/)
      .stdout('changed|unset|a:b:c|kept--dropped|/step/lib:/worker/lib\n')
      .rc(0)
      .elapsedTime()
      .elapsed()
      .run();
  });

  it('appends ":" to PYTHONPATH even when the worker has none', async () => {
    await expectCommand('shell', { command: 'echo "$PYTHONPATH"', workdir, logEnviron: false, env: { PYTHONPATH: '/x' } })
      .withEnv({ environ: { PATH: process.env['PATH'] } })
      .header(/^echo/)
      .stdout('/x:\n')
      .rc(0)
      .elapsedTime()
      .elapsed()
      .run();
  });

  it('fails the command (after starting) for a non-string env value, still sending elapsed', async () => {
    const run = await expectCommand('shell', { command: 'echo never', workdir, logEnviron: false, env: { COUNT: 3 } })
      .elapsed()
      .fails("'env' values must be strings or lists; key 'COUNT' is incorrect")
      .run();
    expect(run.error).toBeInstanceOf(EnvironmentValueError);
    expect((run.error as EnvironmentValueError).code).toBe('WORKER_COMMAND_BAD_ENV');
  });
});

describe('shell logfiles', () => {
  it('sends a log file written during the run, split into lines, with the final part at exit', async () => {
    const command = 'echo one > out.log; sleep 2.3; echo two >> out.log; printf three >> out.log';
    const { master } = await expectCommand('shell', { command, workdir, logEnviron: false, logfiles: { test: 'out.log' } })
      .header(preamble(command, `b'${command}'`, { logfiles: "{'test': 'out.log'}" }))
      .log('test', 'one\ntwo\n')
      .rc(0)
      .elapsedTime()
      .elapsed()
      .log('test', 'three\n')
      .run();
    // 'one' came from a poll while the process was still running, in an earlier batch than rc.
    const batchOf = (predicate: (entry: readonly [string, unknown]) => boolean) => master.batches.findIndex((batch) => batch.some(predicate));
    expect(batchOf(([key, value]) => key === 'log' && (value as string[])[1] === 'one\n')).toBeLessThan(batchOf(([key]) => key === 'rc'));
  });

  it('ignores an unchanged pre-existing file and, with follow, skips its old content', async () => {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(workdir, { recursive: true });
    writeFileSync(join(workdir, 'stale.log'), 'stale\n');
    writeFileSync(join(workdir, 'followed.log'), 'old\n');
    const { merged } = await expectCommand('shell', {
      command: 'sleep 0.05; echo new >> followed.log',
      workdir,
      logEnviron: false,
      logfiles: { stale: 'stale.log', followed: { filename: 'followed.log', follow: true } },
    })
      .header(/watching logfiles \{'stale': 'stale.log', 'followed': \{'filename': 'followed.log', 'follow': True\}\}\n/)
      .log('followed', 'new\n')
      .rc(0)
      .elapsedTime()
      .elapsed()
      .run();
    expect(merged.some(([key, value]) => key === 'log' && (value as string[])[0] === 'stale')).toBe(false);
    expect(readFileSync(join(workdir, 'followed.log'), 'utf8')).toBe('old\nnew\n');
  });

  it('interrupt flushes buffered output first', async () => {
    await expectCommand('shell', { command: 'printf "waiting"; sleep 30', workdir, logEnviron: false })
      .withEnv({ output: { bufferTimeoutSeconds: 60 } })
      .during(async (command, master) => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(master.updates).toHaveLength(0);
        command.interrupt('stop it');
        // The flush is synchronous: the partial line left before the kill header was queued.
        expect(master.updates.slice(-1)).toEqual([['stdout', 'waiting\n']]);
        await waitForUpdate(master, ([key]) => key === 'rc');
      })
      .header(/^printf/)
      .stdout('waiting\n')
      .header('\ncommand interrupted, attempting to kill\nprocess killed by signal 9\n')
      .rc(-1)
      .elapsedTime()
      .run();
  });
});
