/** `upload_file`: send one worker file to the master's FileWriter (docs/master-worker-protocol.md §3.4). */
import type { FileHandle } from 'node:fs/promises';
import { uploadBlocks } from './block-upload.js';
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { PathEscapeError } from '../../master/errors.js';
import { Confinement } from './confinement.js';
import { TransferStatus } from './transfer-status.js';

export const UPLOAD_FILE_COMMAND_CLASS = 'WorkerFileUploadCommand';
export const UPLOAD_FILE_REQUIRED_ARGS = ['path', 'blocksize'] as const;

async function openForUpload(confinement: Confinement, path: string): Promise<FileHandle> {
  const handle = await confinement.open(path, 'r');
  // Linux lets a directory be opened for reading; Python refuses, and so must the upload.
  if ((await handle.stat()).isDirectory()) {
    await handle.close();
    throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${path}'`), { code: 'EISDIR', path });
  }
  return handle;
}

export function createFileUpload(args: CommandArguments, context: CommandContext): CommandImplementation {
  const path = args.string('path');
  const blocksize = args.positiveCount('blocksize');
  const maxsize = args.optionalCount('maxsize');
  const keepstamp = args.flag('keepstamp', false);
  const confinement = Confinement.of(args, context.logger);
  const status = new TransferStatus();
  let killed = false;

  return {
    async run() {
      const { channel } = context;
      let source: FileHandle | null = null;
      let times: { accessTime: number; modifiedTime: number } | null = null;
      try {
        source = await openForUpload(confinement, await confinement.resolve(path));
        if (keepstamp) {
          const stats = await source.stat();
          times = { accessTime: stats.atimeMs / 1000, modifiedTime: stats.mtimeMs / 1000 };
        }
      } catch (error) {
        // An escape fails the command before anything is read (§3.1); other errors are Buildbot's.
        if (error instanceof PathEscapeError) throw error;
        context.logger?.info({ err: error, path }, 'cannot open file for upload');
        status.fail(`Cannot open file '${path}' for upload`);
      }
      context.sendStatus([['header', `sending ${path}\n`]]);

      try {
        await uploadBlocks({
          source,
          path,
          blocksize,
          maxsize,
          status,
          stopped: () => killed,
          writeBlock: (data) => channel.writeBlock(data),
          retainedBytes: channel.retainedBytes,
        });
      } catch (error) {
        status.rc = 1;
        await source?.close().catch(() => undefined);
        // The writer is closed even after a failure (and even when nothing was opened), so the
        // master can finish its temp file and then discard it because rc is not 0.
        await channel.closeWriter().catch((closeError: unknown) => {
          context.logger?.warn({ err: closeError }, 'ignoring error from the writer close');
        });
        status.report(context);
        throw error;
      }
      try {
        await source?.close();
        await channel.closeWriter();
        if (keepstamp && times !== null) await channel.utime(times.accessTime, times.modifiedTime);
      } catch (error) {
        // With several blocks in flight, a block the master refused only surfaces here.
        status.rc = 1;
        throw error;
      } finally {
        status.report(context);
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
