/**
 * `ampstate`: Twisted's AMP for Node, byte for byte. The codec (boxes, argument types, commands),
 * connections (`connect`, `listen`, `AmpConnection`, responders) and the AMP command sets of the
 * protocols built on it. The rest lives behind subpaths: `ampstate/master`, `ampstate/worker`,
 * `ampstate/trial`, `ampstate/machines`. See docs/amp-protocol.md.
 */
export * from './codec/index.js';
export { StartTLS } from './codec/protocols/start-tls.js';
export * as trialCommands from './codec/protocols/trial-commands.js';
export * as workerCommands from './codec/protocols/worker-commands.js';
export * from './codec/protocols/worker-errors.js';

export {
  AmpConnection,
  type AmpConnectionEvent,
  type AmpConnectionOptions,
  type CallOptions,
  type Inspector,
} from './actors/amp-connection.js';
export {
  ResponderTable,
  responders,
  switchProtocol,
  startTlsWith,
  ProtocolSwitchAnswer,
  TlsAnswer,
  type Responder,
  type RawResponder,
  type ResponderContext,
} from './actors/responders.js';
export { connect, listen, ConnectError, type AmpServer, type ConnectOptions, type ListenOptions } from './actors/connect.js';
export { DEFAULT_FIRST_BOX_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, type ConnectionLimitOptions } from './actors/connection-limits.js';
export { ConnectionRefusedError, type Refusal, type RefusalReason } from './actors/refusals.js';
export {
  parseClientEndpoint,
  parseServerEndpoint,
  EndpointSyntaxError,
  type EndpointDescription,
} from './actors/endpoint.js';
export { createMemoryPair } from './actors/memory-pair.js';
export { StreamRegistry, type StreamRegistryOptions } from './actors/amp/stream-registry.js';
export * as streamCommands from './codec/protocols/streams.js';
export { DescriptorAddonMissingError } from './actors/unix-fd-socket.js';
export { createPinoInspector } from './actors/pino-inspector.js';
export { defaultLogger, type Logger } from './actors/logger.js';
export type { TlsOptions, PeerCertificate } from './actors/tls-options.js';
export { TlsVerificationError } from './actors/tls-verification.js';
export { configurePeerFaultLogging, flushPeerFaultLog } from './actors/peer-fault-log.js';
export type { LogRateLimitSettings } from './actors/log-rate-limit.js';
