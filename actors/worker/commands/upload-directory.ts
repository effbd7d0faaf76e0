/** `upload_directory`: tar a worker directory and send it to the master, which unpacks it (docs/master-worker-protocol.md §3.4). */
import { open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownedTempName } from '../../owned-temp-files.js';
import { uploadBlocks } from './block-upload.js';
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { Confinement } from './confinement.js';
import { writeDirectoryArchive, type ArchiveCompression } from './directory-archive.js';
import { InvalidArgumentError } from './errors.js';
import { pythonOSErrorText, systemErrorDetails } from './errno-text.js';
import { TransferStatus } from './transfer-status.js';

export const UPLOAD_DIRECTORY_COMMAND_CLASS = 'WorkerDirectoryUploadCommand';
export const UPLOAD_DIRECTORY_REQUIRED_ARGS = ['path', 'blocksize'] as const;
/** The tar a directory upload is packed into, in the system temp directory. */
export const UPLOAD_ARCHIVE_PREFIX = 'buildbot-transfer-';

function parseCompression(args: CommandArguments): ArchiveCompression {
  const value = args.raw('compress') ?? null;
  if (value === null || value === 'gz' || value === 'bz2') return value;
  throw new InvalidArgumentError(UPLOAD_DIRECTORY_COMMAND_CLASS, 'compress', "null, 'gz' or 'bz2'");
}

export function createDirectoryUpload(args: CommandArguments, context: CommandContext): CommandImplementation {
  const path = args.string('path');
  const blocksize = args.positiveCount('blocksize');
  const maxsize = args.optionalCount('maxsize');
  const compression = parseCompression(args);
  const confinement = Confinement.of(args, context.logger);
  const status = new TransferStatus();
  let killed = false;

  return {
    async run() {
      const { channel } = context;
      // Owned: a worker killed during the upload leaves it, and the next one's startup sweep removes it.
      const archivePath = join(tmpdir(), ownedTempName(UPLOAD_ARCHIVE_PREFIX));
      let archive: FileHandle | null = null;
      try {
        archive = await open(archivePath, 'wx+', 0o600);
        // Confined, tar reads through the pinned directory (§3.1); errors name the path as asked.
        let physical = path;
        let pinnedAs = path;
        try {
          physical = await confinement.resolve(path);
          await confinement.inDirectory(physical, (pinned) => {
            pinnedAs = pinned;
            return writeDirectoryArchive(pinned, archivePath, compression);
          });
        } catch (error) {
          const details = systemErrorDetails(error);
          if (details === undefined) throw error;
          const failed = (error as { path?: unknown }).path;
          const failedPath = typeof failed !== 'string' ? path : failed.startsWith(pinnedAs) ? physical + failed.slice(pinnedAs.length) : failed;
          status.fail(`Cannot read directory '${path}' for upload: ${pythonOSErrorText(details, failedPath)}`);
          status.report(context);
          return;
        }
        context.sendStatus([['header', `sending ${path}\n`]]);
        let failure: { error: unknown } | undefined;
        try {
          await uploadBlocks({
            source: archive,
            path,
            blocksize,
            maxsize,
            status,
            stopped: () => killed,
            writeBlock: (data) => channel.writeBlock(data),
            retainedBytes: channel.retainedBytes,
          });
        } catch (error) {
          failure = { error };
        }
        // Also after an interrupt or a truncation: unpack is the directory upload's close.
        if (failure === undefined) {
          try {
            await channel.unpack();
          } catch (error) {
            status.rc = 1;
            failure = { error };
          }
        }
        status.report(context);
        if (failure) throw failure.error;
      } finally {
        await archive?.close().catch(() => undefined);
        await rm(archivePath, { force: true });
      }
    },
    interrupt() {
      status.interrupt();
    },
    kill() {
      killed = true;
    },
  };
}
