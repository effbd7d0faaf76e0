/**
 * A master in a process of its own, for the fault tests to kill with SIGKILL: it listens on
 * loopback, waits for worker `fw`, runs one transfer or shell command, and reports on stdout, one
 * JSON object a line: `listening` (with the port), `progress` (bytes so far), `done`.
 *
 * Run from dist/: `node dist/test/faults/master-child.js '<MasterChildJob as JSON>'`.
 */
import { RemoteCommand } from '../../actors/master/remote-command.js';
import { downloadFile, uploadDirectory, uploadFile, type Transfer } from '../../actors/master/transfers.js';
import { BUILDER, startMaster, waitAttached } from '../integration/harness.js';
import { WORKER_NAME, type MasterChildJob } from './master-child-job.js';


function report(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function start(job: MasterChildJob, connection: Awaited<ReturnType<typeof waitAttached>>): Transfer | RemoteCommand {
  const common = { builderName: BUILDER, masterBasedir: job.masterBase, blocksize: 64 * 1024 };
  switch (job.operation) {
    case 'uploadFile':
      return uploadFile(connection, { ...common, workersrc: job.worker, masterdest: job.master });
    case 'uploadDirectory':
      return uploadDirectory(connection, { ...common, workersrc: job.worker, masterdest: job.master });
    case 'downloadFile':
      return downloadFile(connection, { ...common, mastersrc: job.master, workerdest: job.worker });
    case 'shell':
      return new RemoteCommand('shell', { command: job.worker, workdir: 'build' });
  }
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as MasterChildJob;
  const master = await startMaster({ port: job.port ?? 0, workers: { [WORKER_NAME]: job.password } });
  report({ event: 'listening', port: master.port });
  const connection = await waitAttached(master.listener, WORKER_NAME);
  const running = start(job, connection);
  if (running instanceof RemoteCommand) {
    running.updates$.subscribe((update) => report({ event: 'update', key: update.key }));
    const result = await running.run(connection, BUILDER);
    report({ event: 'done', results: result.results });
    return;
  }
  running.progress$.subscribe((progress) => report({ event: 'progress', bytes: progress.bytes }));
  const result = await running.result;
  report({ event: 'done', results: result.results });
}

await main();
