/** `download_file`: fetch a file from the master's FileReader onto the worker (docs/master-worker-protocol.md §3.4). */
import { existsSync } from 'node:fs';
import { chmod, mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { ReadOverrunError } from './errors.js';
import { maxsizeReachedMessage, TransferStatus } from './transfer-status.js';

export const DOWNLOAD_FILE_COMMAND_CLASS = 'WorkerFileDownloadCommand';
export const DOWNLOAD_FILE_REQUIRED_ARGS = ['path', 'blocksize'] as const;

export function createFileDownload(args: CommandArguments, context: CommandContext): CommandImplementation {
  const path = args.string('path');
  const blocksize = args.positiveCount('blocksize');
  const maxsize = args.optionalCount('maxsize');
  const mode = args.optionalCount('mode');
  const status = new TransferStatus();
  let killed = false;

  async function receive(destination: FileHandle | null): Promise<void> {
    let remaining = maxsize;
    for (;;) {
      if (status.interrupted || killed || destination === null) return;
      const length = remaining === null ? blocksize : Math.min(blocksize, remaining);
      if (length <= 0) {
        // As for uploads, a file of exactly maxsize bytes counts as truncated (EOF is never probed).
        status.fail(maxsizeReachedMessage(path));
        return;
      }
      const data = await context.channel.readBlock(length);
      if (data.length === 0) return;
      if (remaining !== null) {
        if (data.length > remaining) throw new ReadOverrunError(length, data.length);
        remaining -= data.length;
      }
      await destination.write(data);
    }
  }

  return {
    async run() {
      const directory = dirname(path);
      if (!existsSync(directory)) await mkdir(directory, { recursive: true });
      let destination: FileHandle | null = null;
      try {
        destination = await open(path, 'w');
        // There is a short window with the umask's mode; the worker's umask is what keeps files private.
        if (mode !== null) await chmod(path, mode);
      } catch (error) {
        context.logger?.info({ err: error, path }, 'cannot open file for download');
        await destination?.close().catch(() => undefined);
        destination = null;
        status.fail(`Cannot open file '${path}' for download`);
      }
      let failure: { error: unknown } | undefined;
      try {
        await receive(destination);
      } catch (error) {
        failure = { error };
      }
      await context.channel.closeReader().catch((error: unknown) => {
        context.logger?.warn({ err: error }, 'ignoring error from the reader close');
      });
      await destination?.close().catch(() => undefined);
      status.report(context);
      if (failure) throw failure.error;
    },
    interrupt() {
      status.interrupt();
    },
    kill() {
      killed = true;
    },
  };
}
