/**
 * Files between the admin client and a worker, through the master: the bytes are staged in a file
 * of the master's staging directory, then moved by the worker commands Buildbot's steps use
 * (downloadFile to the worker, uploadFile from it). Each transfer reaches the event bus (start,
 * progress, end) like any command, through the master's diagnostic channels. The staged file is removed afterwards, whatever happened.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { downloadFile, uploadFile, type Transfer, type TransferResult } from '../transfers.js';
import { ADMIN_BUILDER, ADMIN_WORKDIR, type FarmControl } from './farm-control.js';
import { UnknownWorkerError } from './errors.js';

export interface StagedFile {
  readonly path: string;
  remove(): Promise<void>;
}

async function stagingPath(farm: FarmControl): Promise<string> {
  await mkdir(farm.stagingDirectory, { recursive: true, mode: 0o700 });
  return join(farm.stagingDirectory, `staged-${randomUUID()}`);
}

function staged(path: string): StagedFile {
  return { path, remove: () => rm(path, { force: true }) };
}

/** Runs `start`, reporting its progress; resolves with its result. */
async function transferred(start: () => Transfer, onProgress: (bytes: number) => void): Promise<TransferResult> {
  const transfer = start();
  const progress = transfer.progress$.subscribe(({ bytes }) => onProgress(bytes));
  try {
    return await transfer.result;
  } finally {
    progress.unsubscribe();
  }
}

function connectionOf(farm: FarmControl, worker: string) {
  const connection = farm.connection(worker);
  if (connection === undefined) throw new UnknownWorkerError(`worker '${worker}' is not attached`);
  return connection;
}

/** Stages `body`, then writes it to `workerPath` (relative to the admin workdir) on the worker. */
export async function sendToWorker(
  farm: FarmControl,
  worker: string,
  workerPath: string,
  body: Readable,
  onProgress: (bytes: number) => void = () => undefined,
): Promise<TransferResult> {
  const connection = connectionOf(farm, worker);
  const file = staged(await stagingPath(farm));
  try {
    await pipeline(body, createWriteStream(file.path, { mode: 0o600 }));
    return await transferred(
      () =>
        downloadFile(connection, {
          builderName: ADMIN_BUILDER,
          workdir: ADMIN_WORKDIR,
          mastersrc: file.path,
          workerdest: workerPath,
          masterBasedir: farm.stagingDirectory,
          logger: farm.logger,
        }),
      onProgress,
    );
  } finally {
    await file.remove();
  }
}

/**
 * Copies `workerPath` from the worker into a staged file; the caller sends it on and removes it.
 * A failed transfer leaves nothing staged.
 */
export async function fetchFromWorker(farm: FarmControl, worker: string, workerPath: string): Promise<{ result: TransferResult; file: StagedFile }> {
  const connection = connectionOf(farm, worker);
  const file = staged(await stagingPath(farm));
  const result = await transferred(
    () =>
      uploadFile(connection, {
        builderName: ADMIN_BUILDER,
        workdir: ADMIN_WORKDIR,
        workersrc: workerPath,
        masterdest: file.path,
        masterBasedir: farm.stagingDirectory,
        logger: farm.logger,
      }),
    () => undefined,
  );
  return { result, file };
}
