/**
 * `ampstate upload` and `ampstate download`: files between this machine and a worker, through a
 * master's admin API. On a terminal a progress bar shows bytes and rate; elsewhere one line at
 * the end.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { AdminRequestError } from '../../actors/master/admin/admin-client.js';
import { addMasterOptions, adminClient, type MasterTarget } from './admin-options.js';

interface TransferOptions extends MasterTarget {
  worker: string;
}

/** What a transfer shows while it runs: a bar on a terminal, nothing elsewhere. */
interface Progress {
  update(bytes: number): void;
  stop(): void;
}

function progress(label: string, total: number | undefined): Progress {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const started = Date.now();
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% {moved} {rate}`,
      hideCursor: true,
      clearOnComplete: false,
    },
  );
  bar.start(total ?? 0, 0, { moved: human(0), rate: '' });
  return {
    update(bytes) {
      const elapsed = Math.max((Date.now() - started) / 1000, 0.001);
      if (total === undefined) bar.setTotal(bytes);
      bar.update(bytes, { moved: human(bytes), rate: `${human(bytes / elapsed)}/s` });
    },
    stop: () => bar.stop(),
  };
}

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function counting(onBytes: (total: number) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      total += chunk.length;
      onBytes(total);
      done(null, chunk);
    },
  });
}

async function upload(local: string, remote: string, options: TransferOptions): Promise<void> {
  const client = await adminClient(options);
  const size = (await stat(local)).size;
  const bar = progress(`${local} → ${options.worker}:${remote}`, size);
  const started = Date.now();
  let outcome;
  try {
    outcome = await client.upload(options.worker, remote, createReadStream(local), (bytes) => bar.update(bytes));
  } finally {
    bar.stop();
  }
  if (outcome.result !== 'success') {
    process.stderr.write(`ampstate upload: ${options.worker}:${remote}: ${outcome.failure ?? `${outcome.result} (rc ${outcome.rc ?? 'none'})`}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${outcome.bytes} bytes → ${options.worker}:${remote} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

async function download(remote: string, local: string, options: TransferOptions): Promise<void> {
  const client = await adminClient(options);
  const started = Date.now();
  let fetched;
  try {
    fetched = await client.download(options.worker, remote);
  } catch (error) {
    // The worker could not send it (no such file…): the command failed, the arguments were fine.
    if (!(error instanceof AdminRequestError) || error.status !== 502) throw error;
    process.stderr.write(`ampstate download: ${options.worker}:${remote}: ${error.message}\n`);
    process.exitCode = 1;
    return;
  }
  const { size, body } = fetched;
  const bar = progress(`${options.worker}:${remote} → ${local}`, size);
  let bytes = 0;
  try {
    await pipeline(body, counting((total) => bar.update((bytes = total))), createWriteStream(local));
  } catch (error) {
    await rm(local, { force: true });
    throw error;
  } finally {
    bar.stop();
  }
  process.stdout.write(`${bytes} bytes ← ${options.worker}:${remote} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

export function registerTransferCommands(program: Command): void {
  addMasterOptions(
    program
      .command('upload')
      .description("copy a local file to a worker through a master's admin API (paths on the worker start in its admin builder's build directory)")
      .argument('<local>', 'the file here')
      .argument('<remote>', 'where on the worker')
      .requiredOption('--worker <name>', 'the worker'),
  ).action(upload);

  addMasterOptions(
    program
      .command('download')
      .description("copy a worker's file here through a master's admin API")
      .argument('<remote>', 'the file on the worker')
      .argument('<local>', 'where here')
      .requiredOption('--worker <name>', 'the worker'),
  ).action(download);
}
