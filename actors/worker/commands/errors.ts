/**
 * Errors raised by worker commands. Messages that a master shows to users keep Buildbot's text,
 * because master-side code and people grep for it.
 */
import { AmpStateError } from '../../../codec/errors.js';

export class WorkerCommandError extends AmpStateError {
  override readonly code: string = 'WORKER_COMMAND_ERR';
}

/** `start_command` for a name the worker does not implement. */
export class UnknownCommandError extends WorkerCommandError {
  override readonly code = 'WORKER_COMMAND_UNKNOWN';
  constructor(readonly commandName: string) {
    super(`unrecognized WorkerCommand '${commandName}'`);
  }
}

/** `start_command` without an argument the command cannot do without. */
export class MissingArgumentsError extends WorkerCommandError {
  override readonly code = 'WORKER_COMMAND_MISSING_ARGS';
  constructor(
    readonly commandClass: string,
    readonly missing: readonly string[],
  ) {
    super(`${commandClass} is missing args: ${missing.join(', ')}`);
  }
}

/** An argument of the wrong type. Buildbot would fail somewhere inside the command; we fail at start. */
export class InvalidArgumentError extends WorkerCommandError {
  override readonly code = 'WORKER_COMMAND_INVALID_ARG';
  constructor(
    readonly commandClass: string,
    readonly argument: string,
    readonly expected: string,
  ) {
    super(`${commandClass}: argument '${argument}' must be ${expected}`);
  }
}

/** A shell `env` value that is neither a string, a list of strings nor null (the command fails after starting). */
export class EnvironmentValueError extends WorkerCommandError {
  override readonly code = 'WORKER_COMMAND_BAD_ENV';
  constructor(readonly variable: string) {
    super(`'env' values must be strings or lists; key '${variable}' is incorrect`);
  }
}

/** A shell `command` element that is neither a string nor an `['obfuscated', real, fake]` triple. */
export class CommandLineError extends WorkerCommandError {
  override readonly code = 'WORKER_COMMAND_BAD_ARGV';
  constructor(readonly index: number) {
    super(`command element ${index} must be a string or an ['obfuscated', real, fake] triple`);
  }
}

/** The process outlived the last signal by the backup timeout; Buildbot then gives up with a fake rc. */
export class KillFailedError extends WorkerCommandError {
  override readonly code = 'WORKER_COMMAND_KILL_FAILED';
  constructor(readonly signalName: string) {
    super(`${signalName} failed to kill process`);
  }
}

/** The master answered a download read with more bytes than were asked for while a maxsize applies. */
export class ReadOverrunError extends WorkerCommandError {
  override readonly code = 'WORKER_COMMAND_READ_OVERRUN';
  constructor(
    readonly requested: number,
    readonly received: number,
  ) {
    super(`master returned ${received} bytes for a read of at most ${requested}`);
  }
}

/** `trial_worker`'s import check: the worker's Python cannot import some of the test names. */
export class TrialImportFailedError extends WorkerCommandError {
  override readonly code = 'WORKER_COMMAND_TRIAL_IMPORT';
  constructor(readonly failures: readonly { readonly name: string; readonly reason: string }[]) {
    super(failures.map(({ name, reason }) => `cannot import ${name}: ${reason}`).join('; '));
  }
}

/** `trial_worker` could not start its process (no such interpreter, …). */
export class TrialWorkerSpawnError extends WorkerCommandError {
  override readonly code = 'WORKER_COMMAND_TRIAL_SPAWN';
}
