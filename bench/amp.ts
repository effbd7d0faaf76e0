/**
 * bench/amp: AMP calls over loopback TCP, all in one run.
 *
 *   sequential calls/s   one Hello at a time, each awaited before the next
 *   pipelined calls/s    Hello calls with 1000 in flight
 *   echo MB/s            Echo calls with 60 KB (61440-byte) String values, 8 in flight;
 *                        MB = 10^6 payload bytes sent one way
 *
 * Pairs: ampstate ↔ ampstate (server in a child process, so the two ends do not share a core),
 * ampstate client ↔ Twisted server, Twisted ↔ Twisted (`amp_peer.py twisted-bench`: Twisted's
 * client and server in one process, the way Twisted runs; 22.4, and 24.11 when .cache/ has it),
 * and raw Node TCP with a 4-byte length prefix echoed frame by frame (server in a child process)
 * as the limit.
 *
 * CPU per operation: user + system time of BOTH processes of a pair (this process through
 * process.cpuUsage, a child server through /proc/<pid>/stat; Twisted↔Twisted reports its own
 * process_time) divided by the calls made: the steadiest figure on a shared machine.
 *
 * Run through bench/run.ts (`npm run bench -- amp`), which imports this module and calls `run`.
 * Goals: pipelined ampstate ≥ 30× Twisted↔Twisted and ≥ 50 % of raw; a pipelined call costs
 * ≤ 1/30 of Twisted's CPU; sequential ≥ 70 % of raw; echo ≥ 80 % of raw.
 */
import { existsSync } from 'node:fs';
import { AMP_PEER, PYTHON, childScript, log, spawnServer, type Child } from './amp/children.js';
import { ampDriver, rawDriver } from './amp/drivers.js';
import { FAST, TWISTED_SERVER, measure, type PairResult } from './amp/measure.js';
import { report, type AmpBenchResult } from './amp/report.js';
import { TWISTED_22, twisted24, twistedClient, twistedPair } from './amp/twisted.js';

export type { AmpBenchResult } from './amp/report.js';

export async function run(options: { json: boolean }): Promise<AmpBenchResult> {
  void options;
  if (!existsSync(PYTHON) || !existsSync(AMP_PEER)) throw new Error(`bench/amp needs ${PYTHON} with Twisted and ${AMP_PEER}`);
  const children: Child[] = [];
  try {
    log('starting the ampstate and raw TCP servers (child processes)…');
    const [ampServer, rawServer] = await Promise.all([
      spawnServer(process.execPath, [childScript('amp-server')]),
      spawnServer(process.execPath, [childScript('raw-server')]),
    ]);
    children.push(ampServer, rawServer);

    log('ampstate ↔ ampstate and raw TCP, interleaved…');
    const fast = [await ampDriver(ampServer.port, ampServer.pid), await rawDriver(rawServer.port, rawServer.pid)];
    const [ampstate, raw] = (await measure(fast, FAST)) as [PairResult, PairResult];
    for (const driver of fast) await driver.close();

    log('Twisted client → ampstate server…');
    const twistedClientAmpServer = await twistedClient(TWISTED_22, ampServer.port);

    log('ampstate client → Twisted server…');
    const twistedServer = await spawnServer(PYTHON, [AMP_PEER, 'server', '--port', '0'], TWISTED_22.env);
    children.push(twistedServer);
    const toTwisted = await ampDriver(twistedServer.port, twistedServer.pid);
    const [ampClientTwistedServer] = (await measure([toTwisted], TWISTED_SERVER)) as [PairResult];
    await toTwisted.close();

    log('Twisted 22.4 ↔ Twisted 22.4 (amp_peer.py twisted-bench, best of 2)…');
    const twisted = await twistedPair(TWISTED_22);
    const version24 = twisted24();
    if (version24 === undefined) log('Twisted 24.11 is not unpacked (bash test/peers/fetch-twisted-24.sh): skipped');
    else log('Twisted 24.11 ↔ Twisted 24.11 (best of 2)…');
    const twisted24Pair = version24 === undefined ? undefined : await twistedPair(version24);

    const errors =
      ampstate.errors +
      raw.errors +
      ampClientTwistedServer.errors +
      twisted.errors +
      (twisted24Pair?.errors ?? 0) +
      Number(twistedClientAmpServer.errors ?? 0);
    if (errors > 0) throw new Error(`bench/amp: ${errors} calls failed or answered wrongly`);
    return report({ ampstate, raw, ampClientTwistedServer, twistedClientAmpServer, twisted, twisted24: twisted24Pair });
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
}
