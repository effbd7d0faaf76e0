/**
 * The commands this worker implements, by canonical name (docs/master-worker-protocol.md §3.1), and the one way to start
 * them with Buildbot's start-time checks.
 */
import type { CommandChannel, CommandEnvironment, CommandFactory, RunningCommand } from './command.js';
import { WORKER_COMMAND_VERSION } from './command.js';
import { CommandArguments } from './command-arguments.js';
import { runCommand, type CommandContext, type CommandImplementation } from './command-runner.js';
import { CPDIR_COMMAND_CLASS, CPDIR_REQUIRED_ARGS, createCopyDirectory } from './cpdir.js';
import { createFileDownload, DOWNLOAD_FILE_COMMAND_CLASS, DOWNLOAD_FILE_REQUIRED_ARGS } from './download-file.js';
import { UnknownCommandError } from './errors.js';
import { createGlobPath, GLOB_COMMAND_CLASS, GLOB_REQUIRED_ARGS } from './glob-path.js';
import { createListDir, LISTDIR_COMMAND_CLASS, LISTDIR_REQUIRED_ARGS } from './listdir.js';
import { createMakeDirectory, MKDIR_COMMAND_CLASS, MKDIR_REQUIRED_ARGS } from './mkdir.js';
import { createRemoveDirectory, RMDIR_COMMAND_CLASS, RMDIR_REQUIRED_ARGS } from './rmdir.js';
import { createRemoveFile, RMFILE_COMMAND_CLASS, RMFILE_REQUIRED_ARGS } from './rmfile.js';
import { createShellCommand, SHELL_COMMAND_CLASS, SHELL_REQUIRED_ARGS } from './shell.js';
import { createStatFile, STAT_COMMAND_CLASS, STAT_REQUIRED_ARGS } from './stat.js';
import { createTrialWorker, TRIAL_WORKER_COMMAND_CLASS, TRIAL_WORKER_REQUIRED_ARGS } from './trial-worker.js';
import { createDirectoryUpload, UPLOAD_DIRECTORY_COMMAND_CLASS, UPLOAD_DIRECTORY_REQUIRED_ARGS } from './upload-directory.js';
import { createFileUpload, UPLOAD_FILE_COMMAND_CLASS, UPLOAD_FILE_REQUIRED_ARGS } from './upload-file.js';

type Implementation = (args: CommandArguments, context: CommandContext) => CommandImplementation;

/** Checks presence, then lets the implementation check types, all before anything runs. */
function defineCommand(commandClass: string, requiredArgs: readonly string[], implementation: Implementation): CommandFactory {
  return (rawArgs, channel, env) => {
    const args = new CommandArguments(commandClass, rawArgs);
    args.requirePresent(requiredArgs);
    return runCommand((context) => implementation(args, context), channel, env);
  };
}

export const workerCommands: Record<string, CommandFactory> = {
  shell: defineCommand(SHELL_COMMAND_CLASS, SHELL_REQUIRED_ARGS, createShellCommand),
  mkdir: defineCommand(MKDIR_COMMAND_CLASS, MKDIR_REQUIRED_ARGS, createMakeDirectory),
  rmdir: defineCommand(RMDIR_COMMAND_CLASS, RMDIR_REQUIRED_ARGS, createRemoveDirectory),
  cpdir: defineCommand(CPDIR_COMMAND_CLASS, CPDIR_REQUIRED_ARGS, createCopyDirectory),
  stat: defineCommand(STAT_COMMAND_CLASS, STAT_REQUIRED_ARGS, createStatFile),
  glob: defineCommand(GLOB_COMMAND_CLASS, GLOB_REQUIRED_ARGS, createGlobPath),
  listdir: defineCommand(LISTDIR_COMMAND_CLASS, LISTDIR_REQUIRED_ARGS, createListDir),
  rmfile: defineCommand(RMFILE_COMMAND_CLASS, RMFILE_REQUIRED_ARGS, createRemoveFile),
  upload_file: defineCommand(UPLOAD_FILE_COMMAND_CLASS, UPLOAD_FILE_REQUIRED_ARGS, createFileUpload),
  upload_directory: defineCommand(UPLOAD_DIRECTORY_COMMAND_CLASS, UPLOAD_DIRECTORY_REQUIRED_ARGS, createDirectoryUpload),
  download_file: defineCommand(DOWNLOAD_FILE_COMMAND_CLASS, DOWNLOAD_FILE_REQUIRED_ARGS, createFileDownload),
  // ampstate's extension: a trial worker whose fds 3 and 4 travel over the farm connection.
  trial_worker: defineCommand(TRIAL_WORKER_COMMAND_CLASS, TRIAL_WORKER_REQUIRED_ARGS, createTrialWorker),
};

/** The PB-era spellings, which Buildbot workers also accept and advertise. */
export const WORKER_COMMAND_ALIASES: Readonly<Record<string, string>> = {
  uploadFile: 'upload_file',
  uploadDirectory: 'upload_directory',
  downloadFile: 'download_file',
};

/** `worker_commands` of the worker info: every accepted name, aliases included. */
export function workerCommandVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const name of [...Object.keys(workerCommands), ...Object.keys(WORKER_COMMAND_ALIASES)]) {
    versions[name] = WORKER_COMMAND_VERSION;
  }
  return versions;
}

/**
 * `start_command`: throws UnknownCommandError or MissingArgumentsError (or InvalidArgumentError)
 * synchronously, so the session can answer the start request with the error; failures after
 * that arrive through `done`.
 */
export function startCommand(
  name: string,
  args: Record<string, unknown>,
  channel: CommandChannel,
  env: CommandEnvironment,
): RunningCommand {
  const canonicalName = Object.hasOwn(WORKER_COMMAND_ALIASES, name) ? (WORKER_COMMAND_ALIASES[name] as string) : name;
  const factory = Object.hasOwn(workerCommands, canonicalName) ? workerCommands[canonicalName] : undefined;
  if (factory === undefined) throw new UnknownCommandError(name);
  return factory(args, channel, env);
}
