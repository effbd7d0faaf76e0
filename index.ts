/**
 * ampstate: Twisted's AMP for Node, byte for byte, with an xstate machine for every protocol phase.
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
export {
  parseClientEndpoint,
  parseServerEndpoint,
  EndpointSyntaxError,
  type EndpointDescription,
} from './actors/endpoint.js';
export { createMemoryPair } from './actors/memory-pair.js';
export { createPinoInspector } from './actors/pino-inspector.js';
export type { TlsOptions, PeerCertificate } from './actors/tls-options.js';

export * as master from './actors/master/index.js';
export { WorkerSession, type WorkerSessionOptions } from './actors/worker/session.js';
export { runWorkerDaemon, type WorkerDaemonOptions } from './actors/worker/daemon.js';
export * as workerCommandImplementations from './actors/worker/commands/index.js';

export * from './machines/index.js';
