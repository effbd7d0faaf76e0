import { assign, setup } from 'xstate';

/**
 * The master's end of one file transfer (docs/master-worker-protocol.md §2.2–§2.3): a FileWriter receiving an upload or a
 * FileReader serving a download. The machine says which calls are still allowed, so a write after
 * close or a read after cancel is refused instead of corrupting the destination.
 *
 * At most one event per batch of blocks (`block`, with how many blocks it stands for; the actor
 * gathers what arrives while its file is busy); everything else is a control event. The actor supplies
 * one side effect, `endProgress`: the transfer's progress stream ends when the machine says the
 * transfer has ended (closed, unpacked, failed, cancelled, purged), or when the step cancels or
 * purges it afterwards.
 */
export type FileTransferEvent =
  | { type: 'block'; bytes: number; blocks?: number }
  | { type: 'eof' }
  | { type: 'close' }
  | { type: 'closed' }
  | { type: 'unpack' }
  | { type: 'unpacked' }
  | { type: 'utime' }
  | { type: 'fail'; reason: string }
  | { type: 'cancel' }
  | { type: 'purge' };

export interface FileTransferContext {
  bytes: number;
  blocks: number;
  reason: string | undefined;
}

export const fileTransferMachine = setup({
  types: {
    context: {} as FileTransferContext,
    events: {} as FileTransferEvent,
  },
  actions: {
    countBlock: assign({
      bytes: ({ context, event }) => context.bytes + (event.type === 'block' ? event.bytes : 0),
      blocks: ({ context, event }) => context.blocks + (event.type === 'block' ? (event.blocks ?? 1) : 0),
    }),
    // Allowed but changing nothing; an action so that `snapshot.can()` says yes (a bare `{}` reads as forbidden).
    accept: () => undefined,
    recordReason: assign({
      reason: ({ context, event }) => context.reason ?? (event.type === 'fail' ? event.reason : event.type),
    }),
    // Provided by the actor: complete its progress stream (idempotent).
    endProgress: () => undefined,
  },
}).createMachine({
  id: 'fileTransfer',
  context: { bytes: 0, blocks: 0, reason: undefined },
  initial: 'transferring',
  states: {
    /** Blocks flow (writes for an upload, reads for a download). */
    transferring: {
      on: {
        block: { actions: 'countBlock' },
        eof: 'drained',
        // Buildbot's worker sends utime after close, but accepting it early costs nothing.
        utime: { actions: 'accept' },
        close: 'closing',
        unpack: 'unpacking',
        fail: { target: 'failed', actions: 'recordReason' },
        cancel: { target: 'cancelled', actions: 'recordReason' },
      },
    },
    /** A download hit end of file; further reads keep answering empty until close. */
    drained: {
      on: {
        eof: { actions: 'accept' },
        close: 'closing',
        fail: { target: 'failed', actions: 'recordReason' },
        cancel: { target: 'cancelled', actions: 'recordReason' },
      },
    },
    /** Temp file being finished and renamed onto the destination. */
    closing: {
      on: {
        closed: 'closed',
        fail: { target: 'failed', actions: 'recordReason' },
      },
    },
    /** A directory upload's tar is being checked and extracted. */
    unpacking: {
      on: {
        unpacked: 'unpacked',
        fail: { target: 'failed', actions: 'recordReason' },
      },
    },
    /** The destination exists; the worker may still set its times; the step may purge it. */
    closed: {
      entry: 'endProgress',
      on: {
        utime: { actions: 'accept' },
        close: { actions: 'accept' },
        cancel: { actions: 'endProgress' },
        purge: { target: 'purged', actions: 'recordReason' },
        fail: { target: 'failed', actions: 'recordReason' },
      },
    },
    unpacked: ended(),
    /** Something went wrong; the temp file is gone. */
    failed: ended(),
    /** Never closed: the temp file was deleted (Buildbot's cancel). */
    cancelled: ended(),
    /** Closed, then thrown away because the command failed. */
    purged: ended(),
  },
});

/** A state after the end: progress is over; the step may still cancel or purge, which change nothing. */
function ended() {
  return { entry: 'endProgress', on: { cancel: { actions: 'endProgress' }, purge: { actions: 'endProgress' } } } as const;
}
