/**
 * bench/buildbot: one ampstate master, two workers, one 256 MB upload from each,
 * in one run:
 *
 *   stock     Debian's buildbot-worker 3.7 (Python, Twisted) over msgpack_experimental_v7,
 *             stop-and-wait as Buildbot's protocol is
 *   ampstate  `ampstate worker` (a separate Node process) over AMP, with its transfer window
 *
 * Both go through the same master code: the same `uploadFile` helper, FileWriter and RemoteCommand,
 * with the same blocksize (the helper's default). Each upload is timed from the command's start to
 * its result, and the file that landed on the master is checked against the source (size and
 * SHA-256). MB = 10^6 bytes. `ratio` = ampstate MB/s ÷ stock MB/s.
 *
 * Run through bench/run.ts (`npm run bench -- buildbot`). AMPSTATE_BENCH_BUILDBOT_MB changes the
 * size (default 256) for a quick look.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, mkdtempSync, openSync, realpathSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { filter, firstValueFrom } from 'rxjs';
import { FileWriter } from '../actors/master/file-writer.js';
import { RemoteCommand } from '../actors/master/remote-command.js';
import { TRANSFER_DECODE_RC } from '../actors/master/results.js';
import { DEFAULT_UPLOAD_FILE_BLOCKSIZE, uploadFile } from '../actors/master/transfers.js';
import type { BuilderList, Connection } from '../actors/master/connection-api.js';
import { Listener } from '../actors/master/listener.js';
import { MsgpackListener } from '../actors/master/msgpack/listener.js';
import { StockWorker, stockWorkerAvailability } from '../test/buildbot/stock-worker.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = /[\\/]dist[\\/]bench$/.test(HERE) ? resolve(HERE, '../..') : resolve(HERE, '..');
const CLI = join(ROOT, 'dist/bin/cli.js');
const BUILDERS: BuilderList = [['bench', 'bench']];
const PASSWORD = 'bench-password';
/** Buildbot's FileUpload step default. */
const BUILDBOT_FILEUPLOAD_BLOCKSIZE = 256 * 1024;
const quiet = pino({ level: 'silent' });

interface UploadRun {
  readonly seconds: number;
  readonly mb_per_s: number;
  readonly bytes: number;
  readonly verified: boolean;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolvePromise(hash.digest('hex')))
      .on('error', reject);
  });
}

/** The same pseudo-random MiB over and over: incompressible enough, quick to write. */
function writePayload(path: string, bytes: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const block = randomBytes(1024 * 1024);
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < bytes; written += block.length) writeSync(fd, block, 0, Math.min(block.length, bytes - written));
  } finally {
    closeSync(fd);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolvePromise(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

async function timedUpload(connection: Connection, masterdest: string, source: string, sourceHash: string): Promise<UploadRun> {
  const started = performance.now();
  const result = await uploadFile(connection, { builderName: 'bench', workersrc: 'payload.bin', masterdest }).result;
  const seconds = (performance.now() - started) / 1000;
  if (result.rc !== 0) throw new Error(`upload to ${masterdest} failed: rc ${result.rc} ${result.failure?.message ?? ''}`);
  const bytes = statSync(masterdest).size;
  const verified = bytes === statSync(source).size && (await sha256File(masterdest)) === sourceHash;
  rmSync(masterdest, { force: true });
  return { seconds, mb_per_s: bytes / 1e6 / seconds, bytes, verified };
}

/**
 * The same upload without the helper's AMP-driven blocksize cap: Buildbot's FileUpload asks for
 * 256 KiB blocks, which msgpack carries as they are. Only the stock worker gets this extra row.
 */
async function timedUploadWithBlocksize(connection: Connection, masterdest: string, source: string, sourceHash: string, blocksize: number): Promise<UploadRun> {
  const writer = new FileWriter({ destination: masterdest, logger: quiet });
  const command = new RemoteCommand(
    'uploadFile',
    { workdir: 'build', workersrc: 'payload.bin', writer, maxsize: null, blocksize, keepstamp: false },
    { decodeRC: TRANSFER_DECODE_RC, logger: quiet },
  );
  const started = performance.now();
  const result = await command.run(connection, 'bench');
  const seconds = (performance.now() - started) / 1000;
  if (result.rc !== 0) {
    await writer.purge();
    throw new Error(`upload to ${masterdest} failed: rc ${result.rc} ${result.failure?.message ?? ''}`);
  }
  const bytes = statSync(masterdest).size;
  const verified = bytes === statSync(source).size && (await sha256File(masterdest)) === sourceHash;
  rmSync(masterdest, { force: true });
  return { seconds, mb_per_s: bytes / 1e6 / seconds, bytes, verified };
}

export async function run(options: { json: boolean }): Promise<Record<string, unknown>> {
  const availability = stockWorkerAvailability();
  if (!availability.ok) throw new Error(`bench/buildbot needs the stock worker: ${availability.reason}`);
  const megabytes = Number(process.env.AMPSTATE_BENCH_BUILDBOT_MB ?? 256);
  const size = Math.round(megabytes * 1024 * 1024);
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'ampstate-bench-buildbot-')));
  const masterDir = join(root, 'master');
  mkdirSync(masterDir);

  // One master: both listeners live in this process and share its event loop, as they would.
  const ampListener = new Listener({
    endpoint: 'tcp:0:interface=127.0.0.1',
    registrations: { 'amp-worker': { password: PASSWORD, builders: BUILDERS } },
    logger: quiet,
  });
  const msgpackListener = new MsgpackListener({ registrations: { 'stock-worker': { password: PASSWORD, builders: BUILDERS } }, logger: quiet });
  const ampPort = ((await ampListener.start()) as AddressInfo).port;
  const { port: msgpackPort } = await msgpackListener.start();

  const stockBasedir = join(root, 'stock');
  const ampBasedir = join(root, 'ampstate');
  const stock = StockWorker.create({ basedir: stockBasedir, port: msgpackPort, name: 'stock-worker', password: PASSWORD });
  const passwordFile = join(root, 'password');
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  let ampWorker: ChildProcess | undefined;
  try {
    const stockAttached = firstValueFrom(msgpackListener.workers$.pipe(filter((event) => event.type === 'attached')));
    const ampAttached = firstValueFrom(ampListener.workers$.pipe(filter((event) => event.type === 'attached')));
    stock.start();
    ampWorker = spawn(
      process.execPath,
      [CLI, 'worker', '--master', `tcp:127.0.0.1:${ampPort}`, '--name', 'amp-worker', '--password-file', passwordFile, '--basedir', ampBasedir, '--log-level', 'warn'],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const stockConnection = ((await withTimeout(stockAttached, 30_000, `the stock worker to attach\n${stock.tail()}`)) as { connection: Connection }).connection;
    const ampConnection = ((await withTimeout(ampAttached, 30_000, 'the ampstate worker to attach')) as { connection: Connection }).connection;

    const stockSource = join(stockBasedir, 'bench', 'build', 'payload.bin');
    const ampSource = join(ampBasedir, 'bench', 'build', 'payload.bin');
    writePayload(stockSource, size);
    mkdirSync(dirname(ampSource), { recursive: true });
    writePayload(ampSource, size);
    const [stockHash, ampHash] = await Promise.all([sha256File(stockSource), sha256File(ampSource)]);

    // ampstate first, then stock; one upload each (a stock upload of 256 MB takes a while).
    const ampstate = await timedUpload(ampConnection, join(masterDir, 'ampstate.bin'), ampSource, ampHash);
    const stockRun = await timedUpload(stockConnection, join(masterDir, 'stock.bin'), stockSource, stockHash);
    const stockBuildbotBlocks = await timedUploadWithBlocksize(stockConnection, join(masterDir, 'stock-256k.bin'), stockSource, stockHash, BUILDBOT_FILEUPLOAD_BLOCKSIZE);

    const result = {
      mebibytes_uploaded: megabytes,
      megabytes_uploaded: size / 1e6,
      blocksize: DEFAULT_UPLOAD_FILE_BLOCKSIZE,
      stock_worker: { version: availability.version, protocol: 'msgpack_experimental_v7', ...stockRun },
      ampstate_worker: { protocol: 'AMP', transfer_window: (ampConnection as { transferWindow?: number }).transferWindow ?? 1, ...ampstate },
      ratio: ampstate.mb_per_s / stockRun.mb_per_s,
      stock_worker_buildbot_blocksize: { blocksize: BUILDBOT_FILEUPLOAD_BLOCKSIZE, ...stockBuildbotBlocks },
      ratio_vs_stock_buildbot_blocksize: ampstate.mb_per_s / stockBuildbotBlocks.mb_per_s,
    };
    if (!options.json) {
      const line = (name: string, run: UploadRun) =>
        `  ${name.padEnd(34)} ${run.mb_per_s.toFixed(1).padStart(8)} MB/s  ${run.seconds.toFixed(2).padStart(7)} s  ${run.verified ? 'verified' : 'MISMATCH'}`;
      process.stdout.write(
        [
          `bench/buildbot: upload of ${megabytes} MiB (${(size / 1e6).toFixed(0)} MB) to one ampstate master, blocksize ${DEFAULT_UPLOAD_FILE_BLOCKSIZE} B`,
          line(`buildbot-worker ${availability.version} (msgpack)`, stockRun),
          line(`ampstate worker (AMP, window ${result.ampstate_worker.transfer_window})`, ampstate),
          `  ratio ampstate/stock: ${result.ratio.toFixed(2)}×`,
          line(`buildbot-worker, ${BUILDBOT_FILEUPLOAD_BLOCKSIZE / 1024} KiB blocks`, stockBuildbotBlocks),
          `  ratio ampstate/stock with Buildbot's FileUpload blocksize: ${result.ratio_vs_stock_buildbot_blocksize.toFixed(2)}×`,
          '',
        ].join('\n'),
      );
    }
    if (!stockRun.verified || !ampstate.verified || !stockBuildbotBlocks.verified) throw new Error('an uploaded file differs from its source');
    return result;
  } finally {
    if (ampWorker !== undefined && ampWorker.exitCode === null) {
      const exited = new Promise((resolveExit) => ampWorker!.once('exit', resolveExit));
      ampWorker.kill('SIGTERM');
      await withTimeout(exited, 10_000, 'the ampstate worker to exit').catch(() => ampWorker!.kill('SIGKILL'));
    }
    await stock.stop();
    await ampListener.stop();
    await msgpackListener.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
