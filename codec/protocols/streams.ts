/**
 * The commands a ByteStream travels by (docs/amp-protocol.md §3.7). `StreamOpen` and `StreamWrite`
 * have the shape Twisted trial (22.10 and later) gives them, so trial's streams use the same layer;
 * `StreamClose` is ampstate's: it ends a stream whose command was sent before its last chunk.
 */
import { defineCommand } from '../command.js';
import { UnknownStreamError } from '../errors.js';
import * as amp from '../types/index.js';

export const UNKNOWN_STREAM_CODE = 'UNKNOWN_STREAM';

/** Receiver → a new stream id. */
export const StreamOpen = defineCommand({ name: 'StreamOpen', response: { streamId: amp.IntegerNumber } });

/**
 * One chunk (at most 65535 bytes). Its answer is the sender's credit: a receiver whose consumer lags
 * answers late, and the sender keeps only a few writes unanswered.
 */
export const StreamWrite = defineCommand({
  name: 'StreamWrite',
  arguments: { streamId: amp.IntegerNumber, data: amp.String },
  errors: { [UNKNOWN_STREAM_CODE]: UnknownStreamError },
});

/** The end of a stream; with `failure`, the sender's reason for giving up (its source failed, or it was cancelled). */
export const StreamClose = defineCommand({
  name: 'StreamClose',
  arguments: { streamId: amp.IntegerNumber, failure: amp.Unicode.optional() },
  errors: { [UNKNOWN_STREAM_CODE]: UnknownStreamError },
});

