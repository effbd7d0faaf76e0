import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { UpdateEntry } from '../../actors/worker/commands/command.js';
import { KillFailedError } from '../../actors/worker/commands/errors.js';
import { expectCommand, livingProcessesInGroup, removeDir, tempDir, waitForGroupExit, waitForUpdate, type FakeMaster } from './harness.js';

let workdir: string;
let scratch: string;
const groups: number[] = [];

beforeEach(() => {
  scratch = tempDir();
  workdir = join(scratch, 'build');
});

afterEach(() => {
  // Never leave sleeping processes behind, whatever the test did.
  for (const pgid of groups.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  removeDir(scratch);
});

/** The commands below print their shell's pid first: the process group id. */
function groupOf(master: FakeMaster): number {
  const first = master.updates.find(([key]) => key === 'stdout');
  const pgid = Number.parseInt(String(first?.[1]), 10);
  expect(pgid).toBeGreaterThan(1);
  groups.push(pgid);
  return pgid;
}

const isStdout = (text: string) => ([key, value]: UpdateEntry) => key === 'stdout' && String(value).includes(text);

describe('shell limits and kill sequence', () => {
  it('kills the whole process group after `timeout` seconds without output', async () => {
    const command = 'echo $$; sleep 30 & sleep 30';
    const { master } = await expectCommand('shell', { command, workdir, logEnviron: false, timeout: 1 })
      .header(/^echo \$\$; sleep 30 & sleep 30\n in dir .* \(timeout 1 sec\)\n/)
      .stdout(/^\d+\n$/)
      .update('failure_reason', 'timeout_without_output')
      .header(`\ncommand timed out: 1 seconds without output running b'${command}', attempting to kill\nprocess killed by signal 9\n`)
      .rc(-1)
      .elapsedTime()
      .elapsed()
      .run();
    expect(await waitForGroupExit(groupOf(master))).toEqual([]);
  });

  it('kills after maxTime even while output keeps coming', async () => {
    const command = 'echo $$; while :; do echo tick; sleep 0.2; done';
    const { master } = await expectCommand('shell', { command, workdir, logEnviron: false, maxTime: 1, timeout: 10 })
      .loosely()
      .header(/\(timeout 10 secs\) \(maxTime 1 sec\)\n/)
      .update('failure_reason', 'timeout')
      .header((text) => text.startsWith(`\ncommand timed out: 1 seconds elapsed running b'${command}', attempting to kill\n`))
      .rc(-1)
      .elapsedTime()
      .elapsed()
      .run();
    expect(await waitForGroupExit(groupOf(master))).toEqual([]);
  });

  it('kills once more than max_lines lines were written', async () => {
    const command = 'echo $$; for i in 1 2 3 4 5 6 7 8; do echo $i; done; sleep 30';
    const { master } = await expectCommand('shell', { command, workdir, logEnviron: false, max_lines: 5 })
      .loosely()
      .update('failure_reason', 'max_lines_failure')
      .header(/\ncommand exceeds max lines: \d+\/5 written\/allowed running b'echo .*', attempting to kill\n/)
      .rc(-1)
      .elapsedTime()
      .elapsed()
      .run();
    expect(await waitForGroupExit(groupOf(master))).toEqual([]);
  });

  it('with sigtermTime sends TERM first; a process that traps it keeps its own rc', async () => {
    await expectCommand('shell', {
      command: "trap 'echo got TERM; exit 7' TERM; echo $$; sleep 30 & wait",
      workdir,
      logEnviron: false,
      sigtermTime: 5,
    })
      .during(async (command, master) => {
        await waitForUpdate(master, ([key]) => key === 'stdout');
        groupOf(master);
        command.interrupt('enough');
      })
      .header(/^trap/)
      .stdout(/^\d+\n$/)
      .header('\ncommand interrupted, attempting to kill\n')
      .stdout('got TERM\n')
      .rc(7)
      .elapsedTime()
      .run();
  });

  it('escalates to interruptSignal after sigtermTime when TERM is ignored', async () => {
    const { master } = await expectCommand('shell', {
      command: "trap '' TERM; echo $$; sleep 30",
      workdir,
      logEnviron: false,
      sigtermTime: 0.3,
    })
      .during(async (command, master) => {
        await waitForUpdate(master, ([key]) => key === 'stdout');
        command.interrupt('enough');
      })
      .header(/^trap/)
      .stdout(/^\d+\n$/)
      .header('\ncommand interrupted, attempting to kill\nprocess killed by signal 9\n')
      .rc(-1)
      .elapsedTime()
      .run();
    expect(await waitForGroupExit(groupOf(master))).toEqual([]);
  });

  it('gives up 5 s after the last signal with a fake rc of -1 and a failure', async () => {
    const run = await expectCommand('shell', {
      command: "trap '' INT; echo $$; sleep 30",
      workdir,
      logEnviron: false,
      interruptSignal: 'INT',
    })
      .during(async (command, master) => {
        await waitForUpdate(master, ([key]) => key === 'stdout');
        groupOf(master);
        command.interrupt('enough');
      })
      .header(/^trap/)
      .stdout(/^\d+\n$/)
      .header('\ncommand interrupted, attempting to kill\nSIGINT failed to kill process\nusing fake rc=-1\n')
      .rc(-1)
      .fails('SIGINT failed to kill process')
      .run();
    expect(run.error).toBeInstanceOf(KillFailedError);
    const pgid = groupOf(run.master);
    expect(livingProcessesInGroup(pgid).length).toBeGreaterThan(0);
    // Connection lost afterwards: kill() still takes the survivors down.
    run.command.kill();
    expect(await waitForGroupExit(pgid)).toEqual([]);
  }, 15_000);

  it('kill() (connection lost) kills the group at once and sends nothing more', async () => {
    let updatesAtKill = 0;
    const { master } = await expectCommand('shell', { command: 'echo $$; sleep 30 & sleep 30', workdir, logEnviron: false })
      .loosely()
      .during(async (command, master) => {
        await waitForUpdate(master, isStdout(''));
        updatesAtKill = master.updates.length;
        command.kill();
      })
      .run();
    expect(master.updates).toHaveLength(updatesAtKill);
    expect(await waitForGroupExit(groupOf(master))).toEqual([]);
  });
});
