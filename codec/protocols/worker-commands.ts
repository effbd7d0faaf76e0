/**
 * The master/worker command set over AMP: Buildbot's msgpack op set (docs/master-worker-protocol.md §5–6)
 * as typed commands. Structured values (command args, updates, worker info) travel as one
 * msgpack value each; worker→master callbacks are keyed by command id, not object references.
 *
 * Every value stays far below AMP's 64 KiB limit: blocks are at most 60 KiB and output is flushed
 * at 48 KiB.
 */
import { defineCommand } from '../command.js';
import * as amp from '../types/index.js';
import {
  CommandRejectedError,
  LoginRefusedError,
  NotAuthenticatedError,
  TransferError,
  UnknownCommandIdError,
} from './worker-errors.js';

/** Largest transfer block: keeps a block plus its box overhead under AMP's 65535-byte values. */
export const MAX_BLOCK_SIZE = 60 * 1024;
/** Output buffer size for AMP (Buildbot uses 64 KiB, which would not fit one value). */
export const AMP_OUTPUT_BUFFER_SIZE = 48 * 1024;

/** One `[key, value]` status pair, as in Buildbot's `send_update([(key, value), ...])`. */
export type UpdateEntry = readonly [key: string, value: unknown];
export type WorkerInfo = Record<string, unknown>;

const notAuthenticated = { NOT_AUTHENTICATED: NotAuthenticatedError };
const unknownCommandId = { ...notAuthenticated, UNKNOWN_COMMAND_ID: UnknownCommandIdError };
const transferErrors = { ...unknownCommandId, TRANSFER_FAILED: TransferError };

// ---- worker → master: authentication comes first

/**
 * The worker's first box. The master compares the password in constant time; nothing else is
 * answered before it succeeds. `transferWindow` is the negotiated extension: how many transfer
 * blocks may be in flight (1 means Buildbot's stop-and-wait).
 */
export const Login = defineCommand({
  name: 'Login',
  arguments: { username: amp.Unicode, password: amp.Unicode, transferWindow: amp.IntegerNumber.optional() },
  response: { transferWindow: amp.IntegerNumber },
  errors: { LOGIN_REFUSED: LoginRefusedError },
});

// ---- master → worker

export const Print = defineCommand({ name: 'Print', arguments: { message: amp.Unicode }, errors: notAuthenticated });
export const Keepalive = defineCommand({ name: 'Keepalive', errors: notAuthenticated });
export const GetWorkerInfo = defineCommand({
  name: 'GetWorkerInfo',
  response: { info: amp.Msgpack<WorkerInfo>() },
  errors: notAuthenticated,
});
/** Output batching settings (Buildbot's set_worker_settings); all four are required. */
export const SetWorkerSettings = defineCommand({
  name: 'SetWorkerSettings',
  arguments: {
    bufferSize: amp.IntegerNumber,
    bufferTimeout: amp.Float,
    newlineRe: amp.Unicode,
    maxLineLength: amp.IntegerNumber,
  },
  errors: notAuthenticated,
});
export const SetBuilderList = defineCommand({
  name: 'SetBuilderList',
  arguments: { builders: amp.Msgpack<[name: string, builddir: string][]>() },
  response: { builders: amp.Msgpack<string[]>() },
  errors: notAuthenticated,
});
/** Answered once the command has started, not when it finishes (updates and complete follow). */
export const StartCommand = defineCommand({
  name: 'StartCommand',
  arguments: {
    builderName: amp.Unicode,
    commandId: amp.Unicode,
    commandName: amp.Unicode,
    args: amp.Msgpack<Record<string, unknown>>(),
  },
  errors: { ...notAuthenticated, COMMAND_REJECTED: CommandRejectedError },
});
/** Answered on delivery; an unknown id is not an error (as Buildbot's msgpack worker). */
export const InterruptCommand = defineCommand({
  name: 'InterruptCommand',
  arguments: { builderName: amp.Unicode, commandId: amp.Unicode, why: amp.Unicode },
  errors: notAuthenticated,
});
export const Shutdown = defineCommand({ name: 'Shutdown', errors: notAuthenticated });
/**
 * ampstate extension (not Buildbot's): bytes for a running command's input, e.g. a trial worker's
 * fd 3. Answered once the bytes were written to the pipe; an empty `data` closes the input (EOF).
 * A command that takes no input answers COMMAND_REJECTED.
 */
export const CommandInput = defineCommand({
  name: 'CommandInput',
  arguments: { commandId: amp.Unicode, data: amp.String },
  errors: { ...unknownCommandId, COMMAND_REJECTED: CommandRejectedError },
});

// ---- worker → master, keyed by command id

export const Update = defineCommand({
  name: 'Update',
  arguments: { commandId: amp.Unicode, updates: amp.Msgpack<UpdateEntry[]>() },
  errors: unknownCommandId,
});
/** Always the last box for a command; `failure` is the failure text, absent on success. */
export const Complete = defineCommand({
  name: 'Complete',
  arguments: { commandId: amp.Unicode, failure: amp.Unicode.optional() },
  errors: unknownCommandId,
});
export const UploadWrite = defineCommand({
  name: 'UploadWrite',
  arguments: { commandId: amp.Unicode, data: amp.String },
  errors: transferErrors,
});
export const UploadUtime = defineCommand({
  name: 'UploadUtime',
  arguments: { commandId: amp.Unicode, accessTime: amp.Float, modifiedTime: amp.Float },
  errors: transferErrors,
});
/** Directory uploads end with unpack instead of close. */
export const UploadUnpack = defineCommand({ name: 'UploadUnpack', arguments: { commandId: amp.Unicode }, errors: transferErrors });
export const UploadClose = defineCommand({ name: 'UploadClose', arguments: { commandId: amp.Unicode }, errors: transferErrors });
/** An empty `data` means end of file. */
export const DownloadRead = defineCommand({
  name: 'DownloadRead',
  arguments: { commandId: amp.Unicode, length: amp.IntegerNumber },
  response: { data: amp.String },
  errors: transferErrors,
});
export const DownloadClose = defineCommand({ name: 'DownloadClose', arguments: { commandId: amp.Unicode }, errors: transferErrors });
