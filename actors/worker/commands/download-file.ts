/**
 * `download_file`: fetch a file from the master's FileReader onto the worker (docs/master-worker-protocol.md §3.4).
 * The blocks go to an AtomicFile: the destination gets the whole file or keeps what it had, also
 * when the download is interrupted, the connection is lost or the worker is killed (§3.6).
 * Blocks that arrive while the file is busy are written together (GatheredWrites).
 */
import { AtomicFile } from '../../atomic-file.js';
import { releaseView } from '../../../codec/slab-leases.js';
import type { CommandArguments } from './command-arguments.js';
import type { CommandContext, CommandImplementation } from './command-runner.js';
import { PathEscapeError } from '../../master/errors.js';
import { Confinement } from './confinement.js';
import { GatheredWrites } from './gathered-writes.js';
import { ReadOverrunError } from './errors.js';
import { maxsizeReachedMessage, TransferStatus } from './transfer-status.js';

export const DOWNLOAD_FILE_COMMAND_CLASS = 'WorkerFileDownloadCommand';
export const DOWNLOAD_FILE_REQUIRED_ARGS = ['path', 'blocksize'] as const;
/** The temp file a download writes beside its destination; the worker sweeps dead ones at startup. */
export const DOWNLOAD_TEMP_PREFIX = '.ampstate-download-';

export function createFileDownload(args: CommandArguments, context: CommandContext): CommandImplementation {
  const path = args.string('path');
  const blocksize = args.positiveCount('blocksize');
  const maxsize = args.optionalCount('maxsize');
  const mode = args.optionalCount('mode');
  const status = new TransferStatus();
  let killed = false;
  let truncated = false;

  async function receive(destination: AtomicFile | null): Promise<void> {
    if (destination === null) return;
    // Blocks leased by readBlock go back once they are in the file (or the write failed).
    const writes = new GatheredWrites((blocks) => destination.writeBlocks(blocks).finally(() => blocks.forEach(releaseView)));
    try {
      await receiveInto(writes);
    } catch (error) {
      // The file is discarded after this: no write may still be running then.
      await writes.settled();
      throw error;
    }
    await writes.flush();
  }

  async function receiveInto(writes: GatheredWrites): Promise<void> {
    let remaining = maxsize;
    for (;;) {
      if (status.interrupted || killed) return;
      const length = remaining === null ? blocksize : Math.min(blocksize, remaining);
      if (length <= 0) {
        // As for uploads, a file of exactly maxsize bytes counts as truncated (EOF is never probed).
        truncated = true;
        status.fail(maxsizeReachedMessage(path));
        return;
      }
      const data = await context.channel.readBlock(length);
      if (data.length === 0) return;
      if (remaining !== null) {
        if (data.length > remaining) {
          releaseView(data);
          throw new ReadOverrunError(length, data.length);
        }
        remaining -= data.length;
      }
      await writes.push(data);
    }
  }

  return {
    async run() {
      // Confined (docs/master-worker-protocol.md §3.1): the temp file is checked again once it exists.
      const confinement = Confinement.of(args, context.logger);
      const physical = await confinement.resolve(path);
      await confinement.makeParent(physical);
      let destination: AtomicFile | null = null;
      try {
        destination = await AtomicFile.create(physical, { prefix: DOWNLOAD_TEMP_PREFIX, mode });
        await confinement.resolve(destination.tempPath, { followLast: false }).catch(async (error: unknown) => {
          await destination?.discard();
          throw error;
        });
      } catch (error) {
        if (error instanceof PathEscapeError) throw error;
        context.logger?.info({ err: error, path }, 'cannot open file for download');
        // Discarded already if it was made: nothing must be written to it.
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
      // Whole, or cut at maxsize as the master asked (Buildbot keeps that file, with rc 1); anything else is dropped.
      const complete = failure === undefined && !killed && !status.interrupted && (status.stderr === null || truncated);
      if (destination !== null && complete) {
        try {
          await destination.commit();
        } catch (error) {
          failure = { error };
        }
      }
      await destination?.discard();
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
