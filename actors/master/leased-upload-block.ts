/**
 * An uploaded block written to disk straight from the read slab it arrived in (actors/read-slab.ts),
 * with the slab read into again once the block is on disk (codec/slab-leases.ts). Only our own
 * FileWriter is known to keep a block no longer than its write takes; any other writer (a user's
 * FileWriterImpl may collect blocks in memory) gets the block with its slab pinned, as any typed
 * argument is.
 */
import type { AmpBox } from '../../codec/box.js';
import { DecodedBox } from '../../codec/decoded-box.js';
import { leaseView, releaseView } from '../../codec/slab-leases.js';
import { FileWriter } from './file-writer.js';
import type { FileWriterProxy } from './proxies.js';

/** Call it while `box` is being delivered (the responder itself): the lease must come before the next read. */
export function writeUploadBlock(writer: FileWriterProxy, data: Buffer, box: AmpBox | undefined): Promise<void> {
  if (box === undefined || !(box instanceof DecodedBox) || writer.impl.constructor !== FileWriter) return writer.write(data);
  leaseView(data);
  box.disown();
  return writer.write(data).finally(() => releaseView(data));
}
