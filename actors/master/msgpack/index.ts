/** Driving stock Buildbot workers: the master's `msgpack_experimental_v7` protocol. */
export {
  MsgpackListener,
  MSGPACK_WORKER_SETTINGS,
  DEFAULT_MAX_PAYLOAD,
  type MsgpackListenerOptions,
  type MsgpackRegistryEvent,
  type UpgradeRefusal,
} from './listener.js';
export {
  MsgpackConnection,
  MAX_READ_LENGTH,
  DEFAULT_SHUTDOWN_GRACE_MS,
  DEFAULT_REAP_TIMEOUT_MS,
  type MsgpackConnectionOptions,
  type RunningCommandRef,
} from './connection.js';
export { MsgpackPeer, type RequestHandler } from './peer.js';
export { encodeMessage, decodeMessage, type MsgpackMessage, type MsgpackRequest, type MsgpackResponse } from './codec.js';
export { parseBasicAuth, basicAuthHeader, type BasicAuth } from './basic-auth.js';
export { updatesFromWire } from './updates.js';
export { makeBuilderDirectories, type BuilderDirsContext, type RunInternalCommand } from './builder-dirs.js';
export { Registrations } from '../registrations.js';
export * from './errors.js';
