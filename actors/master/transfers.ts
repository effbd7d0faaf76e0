/**
 * The master's transfer helpers (Buildbot's FileUpload, DirectoryUpload and FileDownload steps,
 * reduced to their transfer): each pairs a RemoteCommand with a FileWriter or FileReader, reports
 * progress as an Observable, and leaves no partial destination behind when the command fails,
 * is interrupted, or the worker disconnects.
 *
 * `result` rejects only when the transfer could not start on the master (a destination or source
 * outside `masterBasedir`, a source that cannot be opened); once the command ran it resolves, with
 * `results` saying how it went.
 */
import { dirname } from 'node:path';
import { EMPTY, type Observable } from 'rxjs';
import { MAX_BLOCK_SIZE } from '../../codec/protocols/worker-commands.js';
import type { Inspector } from '../amp-connection.js';
import type { Logger } from '../logger.js';
import { removeStaleTemps } from '../owned-temp-files.js';
import { assertPhysicallyInside } from './confine.js';
import type { Connection } from './connection-api.js';
import { FileReader } from './file-reader.js';
import { FileWriter, TEMP_PREFIX, type TransferProgress } from './file-writer.js';
import { publishTransferProgress, transferProgressChannel } from './diagnostic-channels.js';
import { RemoteCommand, type RemoteCommandResult } from './remote-command.js';
import { FAILURE, TRANSFER_DECODE_RC } from './results.js';

/** Buildbot's step defaults, cut to what one AMP value can carry. */
export const DEFAULT_UPLOAD_FILE_BLOCKSIZE = Math.min(256 * 1024, MAX_BLOCK_SIZE);
export const DEFAULT_DIRECTORY_BLOCKSIZE = 16 * 1024;
export const DEFAULT_DOWNLOAD_BLOCKSIZE = 16 * 1024;

interface CommonOptions {
  readonly builderName: string;
  /** Relative to the builder directory on the worker. Default `build`, as Buildbot's steps. */
  readonly workdir?: string;
  /** The worker stops (rc 1) after this many bytes; null for no limit. */
  readonly maxsize?: number | null;
  /** Capped at MAX_BLOCK_SIZE. */
  readonly blocksize?: number;
  /** Confine the master-side path to this directory (relative paths are taken from it). */
  readonly masterBasedir?: string;
  readonly inspect?: Inspector;
  readonly logger?: Logger;
}

export interface UploadFileOptions extends CommonOptions {
  /** On the worker; `~` is expanded there. */
  readonly workersrc: string;
  readonly masterdest: string;
  /** chmod on the master after the rename. */
  readonly mode?: number | null;
  /** Keep the worker file's access and modification times. */
  readonly keepstamp?: boolean;
}

export interface UploadDirectoryOptions extends CommonOptions {
  readonly workersrc: string;
  readonly masterdest: string;
  readonly compress?: 'gz' | 'bz2' | null;
}

export interface DownloadFileOptions extends CommonOptions {
  readonly mastersrc: string;
  readonly workerdest: string;
  /** chmod on the worker. */
  readonly mode?: number | null;
}

export interface TransferResult extends RemoteCommandResult {
  /** Bytes moved (after the master's own maxsize cut, for uploads). */
  readonly bytes: number;
  /** The master-side path. */
  readonly path: string;
}

export interface Transfer {
  readonly progress$: Observable<TransferProgress>;
  readonly result: Promise<TransferResult>;
  readonly command: RemoteCommand;
  interrupt(why: string): Promise<void>;
}

function blocksize(requested: number | undefined, fallback: number): number {
  return Math.max(1, Math.min(requested ?? fallback, MAX_BLOCK_SIZE));
}

function transferCommand(name: string, args: Record<string, unknown>, options: CommonOptions): RemoteCommand {
  return new RemoteCommand(name, args, { decodeRC: TRANSFER_DECODE_RC, inspect: options.inspect, logger: options.logger });
}

/** A transfer that never started: no command ran, `result` rejects with why. */
function refused(error: unknown, options: CommonOptions): Transfer {
  const command = new RemoteCommand('refused', {}, { inspect: options.inspect, logger: options.logger });
  const result = Promise.reject(error);
  // The caller owns the rejection; nothing else must report it as unhandled.
  result.catch(() => undefined);
  return { progress$: EMPTY, result, command, interrupt: (why) => command.interrupt(why) };
}

function finishedUpload(command: RemoteCommand, writer: FileWriter, connection: Connection, options: CommonOptions): Promise<TransferResult> {
  return (async () => {
    await assertPhysicallyInside(writer.destination, writer.masterBasedir);
    // A master killed during an upload leaves its temp beside the destination; the next upload there removes it.
    await removeStaleTemps(dirname(writer.destination), TEMP_PREFIX, options.logger);
    const outcome = await command.run(connection, options.builderName);
    // Buildbot: a writer never closed is cancelled; a failed command's destination is purged.
    if (outcome.results >= FAILURE) await writer.purge();
    else await writer.cancel();
    return { ...outcome, bytes: writer.bytesWritten, path: writer.destination };
  })();
}

/**
 * What the two uploads share: a FileWriter at `masterdest` and the worker command that feeds it;
 * `shape` gives the writer's kind and the command's own arguments.
 */
function upload(
  connection: Connection,
  options: UploadFileOptions | UploadDirectoryOptions,
  shape: { readonly commandName: string; readonly directory: boolean; readonly mode?: number | null; readonly defaultBlocksize: number; readonly args: Record<string, unknown> },
): Transfer {
  let writer: FileWriter;
  try {
    writer = new FileWriter({
      destination: options.masterdest,
      directory: shape.directory,
      maxsize: options.maxsize,
      mode: shape.mode,
      masterBasedir: options.masterBasedir,
      inspect: options.inspect,
      logger: options.logger,
    });
  } catch (error) {
    return refused(error, options);
  }
  const command = transferCommand(
    shape.commandName,
    {
      workdir: options.workdir ?? 'build',
      workersrc: options.workersrc,
      writer,
      maxsize: options.maxsize ?? null,
      blocksize: blocksize(options.blocksize, shape.defaultBlocksize),
      ...shape.args,
    },
    options,
  );
  const result = finishedUpload(command, writer, connection, options);
  const transfer: Transfer = { progress$: writer.progress$, result, command, interrupt: (why) => command.interrupt(why) };
  if (transferProgressChannel.hasSubscribers) publishTransferProgress(connection, 'from-worker', transfer);
  return transfer;
}

/** Copies one worker file to the master (`uploadFile`). */
export function uploadFile(connection: Connection, options: UploadFileOptions): Transfer {
  return upload(connection, options, {
    commandName: 'uploadFile',
    directory: false,
    mode: options.mode,
    defaultBlocksize: DEFAULT_UPLOAD_FILE_BLOCKSIZE,
    args: { keepstamp: options.keepstamp ?? false },
  });
}

/** Copies a worker directory to the master as a tar, unpacked there (`uploadDirectory`). */
export function uploadDirectory(connection: Connection, options: UploadDirectoryOptions): Transfer {
  return upload(connection, options, {
    commandName: 'uploadDirectory',
    directory: true,
    defaultBlocksize: DEFAULT_DIRECTORY_BLOCKSIZE,
    args: { compress: options.compress ?? null },
  });
}

/** Copies one master file to the worker (`downloadFile`). */
export function downloadFile(connection: Connection, options: DownloadFileOptions): Transfer {
  let reader: FileReader;
  try {
    reader = new FileReader({ source: options.mastersrc, masterBasedir: options.masterBasedir, inspect: options.inspect, logger: options.logger });
  } catch (error) {
    return refused(error, options);
  }
  const command = transferCommand(
    'downloadFile',
    {
      workdir: options.workdir ?? 'build',
      workerdest: options.workerdest,
      reader,
      maxsize: options.maxsize ?? null,
      blocksize: blocksize(options.blocksize, DEFAULT_DOWNLOAD_BLOCKSIZE),
      mode: options.mode ?? null,
    },
    options,
  );
  const result = (async () => {
    // Opened first: a missing source fails here, before the worker truncates its destination.
    await reader.open();
    const outcome = await command.run(connection, options.builderName);
    await reader.cancel();
    return { ...outcome, bytes: reader.bytesRead, path: reader.source };
  })();
  const transfer: Transfer = { progress$: reader.progress$, result, command, interrupt: (why) => command.interrupt(why) };
  if (transferProgressChannel.hasSubscribers) publishTransferProgress(connection, 'to-worker', transfer);
  return transfer;
}
