/**
 * The scenario list against a stock buildbot-worker 3.7 over msgpack_experimental_v7, plus what only
 * 3.7 does. Under CI a missing buildbot-worker fails this file; elsewhere it is skipped with the
 * reason shown.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RemoteCommand } from '../../actors/master/remote-command.js';
import { RETRY } from '../../actors/master/results.js';
import { defineScenarios, isAlive, pidFrom, sleeperCommand } from './scenarios.js';
import { describeWithPeer } from '../support/describe-with-peer.js';
import { stockWorkerAvailability } from './stock-worker.js';
import { BUILDER, startStockTarget } from './targets.js';

const availability = stockWorkerAvailability();
const version = availability.ok ? availability.version : 'not installed';

describeWithPeer('stock buildbot-worker over msgpack_experimental_v7', { available: availability.ok, reason: availability.ok ? '' : availability.reason }, () => {
  defineScenarios('stock', `stock buildbot-worker ${version} over msgpack_experimental_v7`);

  describe('3.7 shutdown bug (docs/master-worker-protocol.md §4), with the master accommodation turned off', () => {
    it('shutdown while a command runs: 3.7 crashes in stopService, exits, and leaves the command running', async () => {
      const target = await startStockTarget({ name: 'w2', msgpack: { interruptBeforeShutdown: false } });
      let pid = 0;
      try {
        const pidFile = join(target.workdir, 'orphan.pid');
        const result = new RemoteCommand('shell', { command: sleeperCommand(pidFile, 60), workdir: 'build' }).run(target.connection, BUILDER);
        pid = await pidFrom(pidFile);
        await target.connection.remoteShutdown();
        await target.workerEnded();
        // No complete ever comes: the connection went down with the worker.
        expect((await result).results).toBe(RETRY);
        expect(isAlive(pid)).toBe(true);
        // BotMsgpack.stopService iterates the command ids (str) as if they were commands.
        expect(target.workerLog()).toMatch(/AttributeError: 'str' object has no attribute 'builder_is_running'/);
      } finally {
        if (pid !== 0 && isAlive(pid)) process.kill(pid, 'SIGKILL');
        await target.teardown();
      }
    }, 40_000);
  });
});
