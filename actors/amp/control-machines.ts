import { createActor, type Actor, type AnyActorLogic, type InspectionEvent, type Observer } from 'xstate';
import { EventRefusedError } from '../../codec/errors.js';
import { connectionMachine } from '../../machines/connection.js';
import { inputFlowMachine, type InputFlowEvent } from '../../machines/input-flow.js';
import { protocolSwitchMachine, type TransportReceiver } from '../../machines/protocol-switch.js';
import type { requestsMachine } from '../../machines/requests.js';
import { startTlsMachine } from '../../machines/start-tls.js';
import { BoundEffects } from '../bound-effects.js';
import type { TlsOptions } from '../tls-options.js';
import type { OutgoingGate } from './box-transport.js';

/** The side effects the connection's control machines call for; AmpConnection supplies them. */
export interface ControlEffects {
  announceOpen(): void;
  endTransport(): void;
  destroyTransport(): void;
  announceClosed(reason: Error): void;
  beginHandshake(settings: TlsOptions): void;
  announceSecure(): void;
  announceTlsFailure(error: Error): void;
  handOver(receiver: TransportReceiver): void;
  pauseInput(cause: InputFlowEvent['type']): void;
  resumeInput(): void;
}

/**
 * Other definitions of the control machines, with the same events and action names. For tests
 * that prove the machines drive the connection (a StartTLS machine that never leaves `plain`
 * changes what the peer sees).
 * @internal
 */
export interface ControlMachineLogic {
  readonly connection?: typeof connectionMachine;
  readonly requests?: typeof requestsMachine;
  readonly startTls?: typeof startTlsMachine;
  readonly protocolSwitch?: typeof protocolSwitchMachine;
  readonly inputFlow?: typeof inputFlowMachine;
}

export interface ControlMachines {
  readonly connection: Actor<typeof connectionMachine>;
  readonly startTls: Actor<typeof startTlsMachine>;
  readonly protocolSwitch: Actor<typeof protocolSwitchMachine>;
  readonly inputFlow: Actor<typeof inputFlowMachine>;
}

type Inspect = Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined;

const controlEffects = new BoundEffects<ControlEffects>('connection control');

const provideConnection = (logic: typeof connectionMachine) =>
  logic.provide({
    actions: {
      announceOpen: ({ self }) => controlEffects.of(self).announceOpen(),
      endTransport: ({ self }) => controlEffects.of(self).endTransport(),
      destroyTransport: ({ self }) => controlEffects.of(self).destroyTransport(),
      announceClosed: ({ self, context }) => controlEffects.of(self).announceClosed(context.closeReason!),
    },
  });

const provideStartTls = (logic: typeof startTlsMachine) =>
  logic.provide({
    actions: {
      beginHandshake: ({ self, event }) => {
        if (event.type === 'answered' || event.type === 'responded') controlEffects.of(self).beginHandshake(event.tls as TlsOptions);
      },
      announceSecure: ({ self }) => controlEffects.of(self).announceSecure(),
      announceFailure: ({ self, event }) => {
        if (event.type === 'handshakeFailed') controlEffects.of(self).announceTlsFailure(event.error);
      },
    },
  });

const provideProtocolSwitch = (logic: typeof protocolSwitchMachine) =>
  logic.provide({
    actions: {
      handOver: ({ self, event }) => {
        if (event.type === 'answered' || event.type === 'responded') controlEffects.of(self).handOver(event.receiver);
      },
    },
  });

const provideInputFlow = (logic: typeof inputFlowMachine) =>
  logic.provide({
    actions: {
      pauseInput: ({ self, event }) => controlEffects.of(self).pauseInput(event.type),
      resumeInput: ({ self }) => controlEffects.of(self).resumeInput(),
    },
  });

/**
 * Starts the connection's control machines. Each definition is provided once (see BoundEffects);
 * the actors find this connection's effects through the binding.
 */
export function startControlMachines(effects: ControlEffects, inspect: Inspect, logic: ControlMachineLogic = {}): ControlMachines {
  const bind = <TActor extends { start(): TActor }>(actor: TActor): TActor => controlEffects.bind(actor, effects).start();
  return {
    connection: bind(createActor(controlEffects.provideOnce(logic.connection ?? connectionMachine, provideConnection), { inspect })),
    startTls: bind(createActor(controlEffects.provideOnce(logic.startTls ?? startTlsMachine, provideStartTls), { inspect })),
    protocolSwitch: bind(
      createActor(controlEffects.provideOnce(logic.protocolSwitch ?? protocolSwitchMachine, provideProtocolSwitch), { inspect }),
    ),
    inputFlow: bind(createActor(controlEffects.provideOnce(logic.inputFlow ?? inputFlowMachine, provideInputFlow), { inspect })),
  };
}

/**
 * What an outgoing box meets, as the machines have decided it: a switch locks everything; a close
 * stops everything; StartTLS holds boxes from the request until the handshake is done (for good if
 * it was refused or failed).
 */
export function outgoingGate(machines: ControlMachines): OutgoingGate {
  if (!machines.protocolSwitch.getSnapshot().matches('unlocked')) return 'locked';
  const connection = machines.connection.getSnapshot();
  if (connection.matches('closing') || connection.matches('closed')) return 'closed';
  const tls = machines.startTls.getSnapshot();
  return tls.matches('plain') || tls.matches('secure') ? 'open' : 'held';
}

/**
 * Why a machine refused: the protocol's own error when the phase is over (a second StartTLS, a
 * switched connection), or a plain refusal when the machine still stands at its start.
 */
export function refusal(actor: Actor<AnyActorLogic>, event: string, protocolError: Error): Error {
  const snapshot = actor.getSnapshot() as { value: unknown; machine?: { id: string; config: { initial?: unknown } } };
  const initial = snapshot.machine?.config.initial;
  if (snapshot.value !== initial) return protocolError;
  return new EventRefusedError(snapshot.machine?.id ?? 'control', String(snapshot.value), event);
}
