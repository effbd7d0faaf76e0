/**
 * The multi-host harness itself (test/support/farm-cluster.ts, test/support/netns.ts): a master and
 * separate `ampstate worker` daemons as real processes, first all on loopback, then each worker in
 * its own network namespace with its own address. The trial runs across these hosts are in
 * multi-host.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPeer } from '../support/describe-with-peer.js';
import { eventually } from '../support/eventually.js';
import { FarmCluster } from '../support/farm-cluster.js';
import { NetnsLab, namespacePids, netnsAvailability } from '../support/netns.js';
import { AMPSTATE_BIN, runCli } from '../support/run-cli.js';

const SETUP_TIMEOUT = 90_000;

/** `ampstate exec --all -- ARGS` through the master's directory; its `NAME | line` output by worker. */
async function execOnAll(cluster: FarmCluster, args: readonly string[]): Promise<Map<string, string[]>> {
  const run = await runCli(AMPSTATE_BIN, ['exec', '--master', cluster.masterDir, '--all', '--', ...args]);
  expect(run.code, run.stderr + run.stdout).toBe(0);
  const lines = new Map<string, string[]>();
  for (const match of run.stdout.matchAll(/^(\S+)\s*\| (.*)$/gm)) lines.set(match[1]!, [...(lines.get(match[1]!) ?? []), match[2]!.trim()]);
  return lines;
}

describe('a farm of separate worker daemons on loopback', () => {
  let cluster: FarmCluster | undefined;

  beforeAll(async () => {
    cluster = await FarmCluster.start({ workers: ['w1', 'w2'] });
  }, SETUP_TIMEOUT);

  afterAll(async () => {
    await cluster?.stop();
  }, SETUP_TIMEOUT);

  it('attaches both workers to the one master', async () => {
    const attached = await cluster!.attachedWorkers();
    expect(attached.map((worker) => worker.name).sort()).toEqual(['w1', 'w2']);
    expect(new Set(cluster!.workers.map((worker) => worker.process.pid)).size).toBe(2);
  });

  it('runs a command in each worker’s own basedir', async () => {
    const output = await execOnAll(cluster!, ['pwd']);
    for (const worker of cluster!.workers) expect(output.get(worker.name)?.[0]?.startsWith(worker.basedir), worker.name).toBe(true);
  });

  it('loses a worker whose host dies, and keeps the other', async () => {
    cluster!.killHost('w2');
    const attached = await eventually('the master to drop w2', async () => {
      const workers = await cluster!.attachedWorkers();
      return workers.some((worker) => worker.name === 'w2') ? undefined : workers;
    });
    expect(attached.map((worker) => worker.name)).toEqual(['w1']);
  });
});

describeWithPeer('a farm whose workers each have their own host (network namespaces)', netnsAvailability(), () => {
  let lab: NetnsLab | undefined;
  let cluster: FarmCluster | undefined;

  beforeAll(async () => {
    lab = NetnsLab.create(2);
    cluster = await FarmCluster.start({ workers: ['w1', 'w2'], lab });
  }, SETUP_TIMEOUT);

  afterAll(async () => {
    try {
      await cluster?.stop();
    } finally {
      lab?.remove();
    }
  }, SETUP_TIMEOUT);

  it('listens for workers on the lab address only, and attaches both', async () => {
    expect(cluster!.workersEndpoint).toMatch(new RegExp(`^tcp:${lab!.hostAddress.replace(/\./g, '\\.')}:\\d+$`));
    const attached = await cluster!.attachedWorkers();
    expect(attached.map((worker) => worker.name).sort()).toEqual(['w1', 'w2']);
  });

  it('runs each worker in its namespace: `hostname -I` reports that host’s own address', async () => {
    const output = await execOnAll(cluster!, ['hostname', '-I']);
    expect(output.get('w1')).toEqual([lab!.hosts[0]!.address]);
    expect(output.get('w2')).toEqual([lab!.hosts[1]!.address]);
    expect(namespacePids(lab!.hosts[0]!.namespace)).toContain(cluster!.worker('w1').process.pid);
  });

  it('loses a host whose processes are all killed, and keeps the other', async () => {
    cluster!.killHost('w2');
    await eventually('nothing to run in w2’s namespace', () => (namespacePids(lab!.hosts[1]!.namespace).length === 0 ? true : undefined));
    const attached = await eventually('the master to drop w2', async () => {
      const workers = await cluster!.attachedWorkers();
      return workers.some((worker) => worker.name === 'w2') ? undefined : workers;
    });
    expect(attached.map((worker) => worker.name)).toEqual(['w1']);
  });

  it('removes every namespace, veth and bridge it made', () => {
    const spare = NetnsLab.create(2);
    const names = [...spare.hosts.map((host) => host.namespace)];
    const links = [spare.bridge, ...spare.hosts.map((host) => host.hostInterface)];
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).toContain(names[0]);
    spare.remove();
    const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    for (const name of names) expect(namespaces).not.toContain(name);
    for (const link of links) expect(spawnSync('ip', ['link', 'show', link]).status, link).not.toBe(0);
  });
});
