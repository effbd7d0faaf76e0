/** The master side of the master/worker protocol. */
export {
  CONNECTION_METHODS,
  FileReaderImpl,
  FileWriterImpl,
  RemoteCommandImpl,
  type BuilderList,
  type Connection,
  type ConnectionState,
  type ImplClass,
  type MasterOps,
  type ProxyClass,
  type ProxyTable,
  type Subscription,
  type UpdateEntry,
  type WorkerInfo,
  type WorkerOps,
  type WorkerSettings,
} from './connection-api.js';
export {
  BaseConnection,
  DEFAULT_KEEPALIVE_INTERVAL_MS,
  DEFAULT_KEEPALIVE_TIMEOUT_MS,
  DEFAULT_WORKER_SETTINGS,
  isConnectionGone,
  type BaseConnectionOptions,
} from './base-connection.js';
export { withDeadline, settledWithin } from '../deadline.js';
export { MasterConnection, type MasterConnectionOptions } from './master-connection.js';
export { InMemoryConnection, type InMemoryConnectionOptions } from './in-memory-connection.js';
export {
  AmpListener,
  Listener,
  DEFAULT_DUPLICATE_PING_TIMEOUT_MS,
  DEFAULT_LISTEN_ENDPOINT,
  DEFAULT_LOGIN_TIMEOUT_MS,
  DEFAULT_MAX_TRANSFER_WINDOW,
  NOT_AUTHENTICATED_MESSAGE,
  type AmpListenerOptions,
  type CommonListenerOptions,
  type ListenerAddress,
  type ListenerOptions,
  type Registration,
  type WorkerRegistration,
  type WorkerRegistryEvent,
} from './listener.js';
export {
  LoginThrottle,
  DEFAULT_LOGIN_BASE_DELAY_MS,
  DEFAULT_LOGIN_FAILURES_BEFORE_DELAY,
  DEFAULT_LOGIN_FORGET_AFTER_MS,
  DEFAULT_LOGIN_MAX_DELAY_MS,
  DEFAULT_LOGIN_TRACKED_KEYS,
  type LoginThrottleOptions,
  type LoginTicket,
} from './login-throttle.js';
export { DEFAULT_MAX_CONNECTIONS, type ConnectionLimitOptions } from '../connection-limits.js';
export { ConnectionRefusedError, type Refusal, type RefusalReason } from '../refusals.js';
export { COMMAND_ID_PROXIES, FileReaderProxy, FileWriterProxy, createArgsProxies } from './proxies.js';
export { resolveCommandArgs, builderDirectory, TRANSFER_COMMAND_NAMES, type PathContext, type ResolvedCommand } from './paths.js';
export { confinePath, assertPhysicallyInside } from './confine.js';
export {
  RemoteCommand,
  nextCommandId,
  type RemoteCommandOptions,
  type RemoteCommandResult,
  type RemoteUpdate,
} from './remote-command.js';
export { FileWriter, TEMP_PREFIX, type FileWriterOptions, type TransferProgress } from './file-writer.js';
export { FileReader, type FileReaderOptions } from './file-reader.js';
export { unpackArchive, detectCompression, type ArchiveCompression } from './unpack.js';
export {
  uploadFile,
  uploadDirectory,
  downloadFile,
  DEFAULT_DIRECTORY_BLOCKSIZE,
  DEFAULT_DOWNLOAD_BLOCKSIZE,
  DEFAULT_UPLOAD_FILE_BLOCKSIZE,
  type DownloadFileOptions,
  type Transfer,
  type TransferResult,
  type UploadDirectoryOptions,
  type UploadFileOptions,
} from './transfers.js';
export * from './results.js';
export * from './errors.js';
export * from './msgpack/index.js';
export { PasswordHash, PasswordHashSyntaxError } from './password-hash.js';
export { createAdminServer, type AdminServer, type AdminServerOptions, type DashboardDeps, type RegisterDashboard } from './admin/http-server.js';
export { FarmEventBus, type FarmEvent, type FarmEventType, type FarmEvents, type WorkerSummary } from './admin/farm-events.js';
export { ListenerFarm, type WatchedListener } from './admin/listener-farm.js';
export { dashboard, DASHBOARD_PATH, type DashboardOptions } from './dashboard/register-dashboard.js';
export { DashboardAssetMissingError, DashboardNotFoundError } from './dashboard/errors.js';
export { ADMIN_BUILDER, ADMIN_WORKDIR, type FarmControl } from './admin/farm-control.js';
export { AdminClient, AdminClientError, AdminRequestError } from './admin/admin-client.js';
export { TrialWorkerLink, requireTrialSupport, type TrialWorkerSpec, type TrialWorkerOutput, type TrialWorkerEnd } from './trial-worker-link.js';
export { NoTrialSupportError } from './admin/errors.js';
export { MasterService, type MasterServiceOptions } from './service/master-service.js';
