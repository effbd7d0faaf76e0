/**
 * A farm trial worker's fd 4 goes to the master as `trial_amp` updates. While the master leaves
 * them unacknowledged, fd 4 is no longer read, so a worker that outruns the master blocks on its
 * pipe rather than its output piling up in the farm worker's memory.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandArguments } from '../../actors/worker/commands/command-arguments.js';
import type { CommandChannel } from '../../actors/worker/commands/command.js';
import type { CommandContext } from '../../actors/worker/commands/command-runner.js';
import { createTrialWorker, TRIAL_AMP_CHUNK_BYTES, TRIAL_AMP_UNACKNOWLEDGED_BYTES, TrialAmpRefusedError } from '../../actors/worker/commands/trial-worker.js';
import type { UpdateEntry } from '../../codec/protocols/worker-commands.js';
import { removeDir, tempDir } from './harness.js';

const FLOOD_BYTES = 4 * 1024 * 1024;

/** A master that acknowledges `trial_amp` updates only when told to. */
class SlowMaster {
  ampBytes = 0;
  ampUpdates = 0;
  readonly other: UpdateEntry[] = [];
  private readonly waiting: Array<() => void> = [];
  private acknowledging = false;

  /** False plays a master that answers `trial_amp` updates with an error. */
  accepting = true;

  sendUpdate(entries: readonly UpdateEntry[]): Promise<boolean> {
    for (const [key, value] of entries) {
      if (key !== 'trial_amp') {
        this.other.push([key, value] as UpdateEntry);
        continue;
      }
      this.ampUpdates++;
      this.ampBytes += (value as Buffer).length;
    }
    if (this.acknowledging) return Promise.resolve(this.accepting);
    return new Promise((resolve) => this.waiting.push(() => resolve(this.accepting)));
  }

  acknowledgeAll(): void {
    this.acknowledging = true;
    for (const acknowledge of this.waiting.splice(0)) acknowledge();
  }
}

let directory: string | undefined;
afterEach(() => {
  if (directory !== undefined) removeDir(directory);
});

/**
 * A trial_worker command whose "Python" is a shell script writing `fd4` to fd 4 (it ignores
 * `-m twisted.trial._dist.workertrial`), reporting to `master`.
 */
function floodingWorker(fd4: string, master: SlowMaster) {
  directory = tempDir('trial-worker-backpressure-');
  const flood = join(directory, 'flood.sh');
  writeFileSync(flood, `#!/bin/sh\nexec ${fd4} >&4\n`);
  chmodSync(flood, 0o755);
  const context: CommandContext = {
    channel: master as unknown as CommandChannel,
    env: { basedir: directory, environ: process.env },
    logger: undefined,
    sendStatus: () => undefined,
    sendUpdate: (entries) => void master.other.push(...entries),
  };
  return createTrialWorker(new CommandArguments('TrialWorkerCommand', { kind: 'python', python: flood, workdir: directory, directory: '_trial_temp/0' }), context);
}

describe('trial_worker fd 4 backpressure', () => {
  it(`stops reading fd 4 at ${TRIAL_AMP_UNACKNOWLEDGED_BYTES} unacknowledged bytes, and delivers every byte once the master catches up`, async () => {
    const master = new SlowMaster();
    const done = floodingWorker(`head -c ${FLOOD_BYTES} /dev/zero`, master).run();
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The read that reached the limit still goes out (at most 64 KiB more); never the flood.
    expect(master.ampBytes).toBeGreaterThanOrEqual(TRIAL_AMP_UNACKNOWLEDGED_BYTES);
    expect(master.ampBytes).toBeLessThanOrEqual(TRIAL_AMP_UNACKNOWLEDGED_BYTES + 2 * TRIAL_AMP_CHUNK_BYTES);
    master.acknowledgeAll();
    await done;
    expect(master.ampBytes).toBe(FLOOD_BYTES);
    expect(master.other).toContainEqual(['rc', 0]);
  }, 20_000);

  it('stops the worker and fails with TrialAmpRefusedError when the master refuses a trial_amp update', async () => {
    const master = new SlowMaster();
    master.accepting = false;
    master.acknowledgeAll();
    // Floods fd 4 without end: only the command stopping it ends the process.
    await expect(floodingWorker('cat /dev/zero', master).run()).rejects.toBeInstanceOf(TrialAmpRefusedError);
    // The refusal of the first update stopped it: the stream went no further than what was in flight.
    expect(master.ampBytes).toBeLessThanOrEqual(TRIAL_AMP_UNACKNOWLEDGED_BYTES + 2 * TRIAL_AMP_CHUNK_BYTES);
  }, 20_000);
});
