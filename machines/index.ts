import type { AnyStateMachine } from 'xstate';
import { connectionMachine } from './connection.js';
import { fileTransferMachine } from './file-transfer.js';
import { masterConnectionMachine } from './master-connection.js';
import { remoteCommandMachine } from './remote-command.js';
import { framingMachine } from './framing.js';
import { inputFlowMachine } from './input-flow.js';
import { protocolSwitchMachine } from './protocol-switch.js';
import { requestsMachine } from './requests.js';
import { startTlsMachine } from './start-tls.js';
import { trialRunMachine } from './trial-run.js';
import { trialWorkerPoolMachine } from './trial-worker-pool.js';
import { workerSessionMachine } from './worker-session.js';

export { framingMachine, type FramingMachine, type FramingContext, type FramingStringEvent } from './framing.js';
export { connectionMachine, type ConnectionEvent, type ConnectionContext } from './connection.js';
export { requestsMachine, type RequestsEvent } from './requests.js';
export { startTlsMachine, type StartTlsEvent, type TlsSettings } from './start-tls.js';
export { protocolSwitchMachine, type ProtocolSwitchEvent, type TransportReceiver } from './protocol-switch.js';
export { inputFlowMachine, type InputFlowEvent, type InputFlowContext } from './input-flow.js';
export { workerSessionMachine, reconnectDelaySeconds, type WorkerSessionEvent } from './worker-session.js';
export { masterConnectionMachine } from './master-connection.js';
export { remoteCommandMachine } from './remote-command.js';
export { fileTransferMachine } from './file-transfer.js';
export { trialWorkerPoolMachine } from './trial-worker-pool.js';
export { trialRunMachine } from './trial-run.js';
export { toMermaid, toJson } from './export.js';

/** Every protocol machine by name: what `ampstate machines` exports and the README diagrams show. */
export const allMachines: Readonly<Record<string, AnyStateMachine>> = {
  framing: framingMachine,
  connection: connectionMachine,
  requests: requestsMachine,
  startTls: startTlsMachine,
  protocolSwitch: protocolSwitchMachine,
  inputFlow: inputFlowMachine,
  workerSession: workerSessionMachine,
  masterConnection: masterConnectionMachine,
  remoteCommand: remoteCommandMachine,
  fileTransfer: fileTransferMachine,
  trialWorkerPool: trialWorkerPoolMachine,
  trialRun: trialRunMachine,
};
