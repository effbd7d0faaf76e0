/** bench/transfer's sequence: the file, the worker, then upload and download runs next to raw TCP. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_BLOCK_SIZE } from '../../codec/protocols/worker-commands.js';
import { Listener } from '../../actors/master/listener.js';
import { downloadFile, uploadFile } from '../../actors/master/transfers.js';
import type { AmpMeasured, Measured } from './measure.js';
import { ampTransfer } from './measure.js';
import { envNumber, log, MiB } from './environment.js';
import { rawTransfer, type RawMeasured } from './raw.js';
import { direction, goals, printReport, round, type TransferBenchResult } from './report.js';
import { sha256, writeTestFile } from './test-file.js';
import { attached, spawnWorker, type WorkerChild } from './worker-child.js';

const WORKER = 'bench-worker';
const BUILDER = 'bench';
const PASSWORD = 'bench-password';

/** Where an ampstate transfer's CPU went, per 10^9 bytes. */
function cpuSplit(run: AmpMeasured, bytes: number): string {
  const perGB = (seconds: number) => (seconds / (bytes / 1e9)).toFixed(2);
  return `(CPU s/GB: master ${perGB(run.masterCpuSeconds)}, worker ${perGB(run.workerCpuSeconds)})`;
}

/**
 * Before a measured run, outside its timing: the previous run's copy is removed (freeing a 1 GiB
 * file's blocks is not part of either transfer) and the page cache is written back, so a run does
 * not pay for the disk work of the one before it.
 */
function settleDisk(previousCopy: string): void {
  rmSync(previousCopy, { force: true });
  execFileSync('sync');
}

export async function run(options: { json: boolean }): Promise<TransferBenchResult> {
  void options;
  const size = Math.round(envNumber('AMPSTATE_BENCH_TRANSFER_MB', 1024) * MiB);
  const repeats = Math.round(envNumber('AMPSTATE_BENCH_TRANSFER_REPEATS', 2));
  const root = mkdtempSync(join(tmpdir(), 'ampstate-bench-transfer-'));
  const workerBase = join(root, 'worker');
  const buildDir = join(workerBase, 'build-bench', 'build');
  const masterBase = join(root, 'master');
  mkdirSync(buildDir, { recursive: true });
  mkdirSync(masterBase, { recursive: true });
  const passwordFile = join(root, 'password');
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });

  const listener = new Listener({
    endpoint: 'tcp:0:interface=127.0.0.1',
    registrations: { [WORKER]: { password: PASSWORD, builders: [[BUILDER, 'build-bench']] } },
    keepaliveIntervalMs: 0,
    // The window the worker is told to offer (AMPSTATE_BENCH_TRANSFER_WINDOW) is granted in full.
    ...(process.env.AMPSTATE_BENCH_TRANSFER_WINDOW === undefined ? {} : { maxTransferWindow: envNumber('AMPSTATE_BENCH_TRANSFER_WINDOW', 16) }),
  });
  let worker: WorkerChild | undefined;
  try {
    const source = join(buildDir, 'source.bin');
    log(`writing the ${round(size / MiB, 0)} MiB test file…`);
    const expected = writeTestFile(source, size);

    const address = await listener.start();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    worker = spawnWorker({ endpoint: `tcp:127.0.0.1:${port}`, name: WORKER, basedir: workerBase, passwordFile });
    const connection = await attached(listener, WORKER, 20_000);
    log(`worker attached (pid ${worker.pid}, transfer window ${connection.transferWindow})`);

    const uploaded = join(masterBase, 'uploaded.bin');
    const upload = () =>
      uploadFile(connection, { builderName: BUILDER, workersrc: 'source.bin', masterdest: 'uploaded.bin', masterBasedir: masterBase, blocksize: MAX_BLOCK_SIZE });
    const download = () =>
      downloadFile(connection, { builderName: BUILDER, mastersrc: 'uploaded.bin', workerdest: 'downloaded.bin', masterBasedir: masterBase, blocksize: MAX_BLOCK_SIZE });

    const runs = { upAmp: [] as AmpMeasured[], upRaw: [] as RawMeasured[], upDiscard: [] as Measured[], downAmp: [] as AmpMeasured[], downRaw: [] as RawMeasured[], downDiscard: [] as Measured[] };
    // Raw and ampstate interleaved, so load from other processes hits both.
    for (let i = 1; i <= repeats; i++) {
      log(`upload, run ${i} of ${repeats}: raw TCP, then ampstate…`);
      settleDisk(join(masterBase, 'raw-upload.bin'));
      runs.upRaw.push(await rawTransfer(source, size, join(masterBase, 'raw-upload.bin')));
      runs.upDiscard.push(await rawTransfer(source, size, undefined));
      settleDisk(uploaded);
      const up = await ampTransfer(`master-upload-${i}`, upload, size, worker.pid);
      runs.upAmp.push(up);
      log(`  raw ${runs.upRaw.at(-1)!.MBps.toFixed(1)} MB/s, ampstate ${up.MBps.toFixed(1)} MB/s ${cpuSplit(up, size)}`);
    }
    log('checking the uploaded copy…');
    if ((await sha256(uploaded)) !== expected) throw new Error('the uploaded file differs from the source');
    // The source is not needed any more: keep at most two copies on disk.
    rmSync(source);
    const downloaded = join(buildDir, 'downloaded.bin');
    for (let i = 1; i <= repeats; i++) {
      log(`download, run ${i} of ${repeats}: raw TCP, then ampstate…`);
      settleDisk(join(buildDir, 'raw-download.bin'));
      runs.downRaw.push(await rawTransfer(uploaded, size, join(buildDir, 'raw-download.bin')));
      runs.downDiscard.push(await rawTransfer(uploaded, size, undefined));
      settleDisk(downloaded);
      const down = await ampTransfer(`master-download-${i}`, download, size, worker.pid);
      runs.downAmp.push(down);
      log(`  raw ${runs.downRaw.at(-1)!.MBps.toFixed(1)} MB/s, ampstate ${down.MBps.toFixed(1)} MB/s ${cpuSplit(down, size)}`);
    }
    log('checking the downloaded copy…');
    if ((await sha256(downloaded)) !== expected) throw new Error('the downloaded file differs from the source');

    const uploadResult = direction(runs.upAmp, runs.upRaw, runs.upDiscard, size);
    const downloadResult = direction(runs.downAmp, runs.downRaw, runs.downDiscard, size);
    const result: TransferBenchResult = {
      size_bytes: size,
      blocksize: MAX_BLOCK_SIZE,
      transfer_window: connection.transferWindow,
      upload: uploadResult,
      download: downloadResult,
      goals: goals(uploadResult, downloadResult),
    };
    printReport(result);
    return result;
  } finally {
    await worker?.stop();
    await listener.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
