/**
 * Twisted trial's distributed-worker command set (docs/trial-protocol.md §2–3). Two dialects exist
 * with no negotiation: 22.4 sends error text and frames inline; 22.10 and later stream them through
 * `StreamOpen`/`StreamWrite` so results over 64 KiB survive.
 */
import { defineCommand } from '../command.js';
import * as amp from '../types/index.js';
import { StreamOpen, StreamWrite } from './streams.js';

const success = { success: amp.Boolean };

/** Manager → worker: change into the per-worker directory. */
export const Start = defineCommand({ name: 'Start', arguments: { directory: amp.Unicode }, response: success });

/** Manager → worker: run the named test (module, class or method); answered when it finished. */
export const Run = defineCommand({ name: 'Run', arguments: { testCase: amp.Unicode }, response: success });

// Worker → manager commands shared by both dialects.
export const AddSuccess = defineCommand({ name: 'AddSuccess', arguments: { testName: amp.Unicode }, response: success });
export const AddSkip = defineCommand({
  name: 'AddSkip',
  arguments: { testName: amp.Unicode, reason: amp.Unicode },
  response: success,
});
export const AddUnexpectedSuccess = defineCommand({
  name: 'AddUnexpectedSuccess',
  arguments: { testName: amp.Unicode, todo: amp.Unicode },
  response: success,
});
export const TestWrite = defineCommand({ name: 'TestWrite', arguments: { out: amp.Unicode }, response: success });

/** The 22.4 dialect: message text and frames travel inline. */
export const inline = {
  AddError: defineCommand({
    name: 'AddError',
    arguments: { testName: amp.Unicode, error: amp.Unicode, errorClass: amp.Unicode, frames: amp.ListOf(amp.Unicode) },
    response: success,
  }),
  AddFailure: defineCommand({
    name: 'AddFailure',
    arguments: { testName: amp.Unicode, fail: amp.Unicode, failClass: amp.Unicode, frames: amp.ListOf(amp.Unicode) },
    response: success,
  }),
  AddExpectedFailure: defineCommand({
    name: 'AddExpectedFailure',
    arguments: { testName: amp.Unicode, error: amp.Unicode, todo: amp.Unicode },
    response: success,
  }),
};

/** The ≥22.10 dialect: long text goes through numbered streams, one chunk per StreamWrite (the commands of docs/amp-protocol.md §3.7). */
export const streamed = {
  StreamOpen,
  StreamWrite,
  AddError: defineCommand({
    name: 'AddError',
    arguments: {
      testName: amp.Unicode,
      errorClass: amp.Unicode,
      errorStreamId: amp.IntegerNumber,
      framesStreamId: amp.IntegerNumber,
    },
    response: success,
  }),
  AddFailure: defineCommand({
    name: 'AddFailure',
    arguments: {
      testName: amp.Unicode,
      failStreamId: amp.IntegerNumber,
      failClass: amp.Unicode,
      framesStreamId: amp.IntegerNumber,
    },
    response: success,
  }),
  AddExpectedFailure: defineCommand({
    name: 'AddExpectedFailure',
    arguments: { testName: amp.Unicode, errorStreamId: amp.IntegerNumber, todo: amp.Unicode },
    response: success,
  }),
};

export type TrialDialect = '22.4' | '22.10';
