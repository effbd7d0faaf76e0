/** Worker-side command implementations with Buildbot's semantics, independent of the wire. */
export type {
  CommandChannel,
  CommandEnvironment,
  CommandFactory,
  RunningCommand,
  UpdateEntry,
} from './command.js';
export { WORKER_COMMAND_VERSION } from './command.js';
export {
  CommandLineError,
  EnvironmentValueError,
  InvalidArgumentError,
  KillFailedError,
  MissingArgumentsError,
  ReadOverrunError,
  UnknownCommandError,
  WorkerCommandError,
} from './errors.js';
export {
  DEFAULT_BUFFER_SIZE,
  DEFAULT_BUFFER_TIMEOUT_SECONDS,
  OutputBuffer,
  outputOptionsFromWorkerSettings,
  type OutputBufferOptions,
} from './output-buffer.js';
export { DEFAULT_MAX_LINE_LENGTH, DEFAULT_NEWLINE_PATTERN, LineSplitter, compileNewlinePattern } from './line-splitter.js';
export { startCommand, workerCommands, workerCommandVersions, WORKER_COMMAND_ALIASES } from './registry.js';
export { collectWorkerInfo, readOsRelease, type WorkerInfoOptions } from './worker-info.js';
