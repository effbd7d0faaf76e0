import { createActor, type Actor, type AnyActorLogic, type InspectionEvent, type Observer } from 'xstate';
import { EventRefusedError } from '../../codec/errors.js';
import { connectionMachine } from '../../machines/connection.js';
import { inputFlowMachine, type InputFlowEvent } from '../../machines/input-flow.js';
import { protocolSwitchMachine, type TransportReceiver } from '../../machines/protocol-switch.js';
import type { requestsMachine } from '../../machines/requests.js';
import { startTlsMachine } from '../../machines/start-tls.js';
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

/** Starts the connection's control machines, each with the actor's side effects provided. */
export function startControlMachines(effects: ControlEffects, inspect: Inspect, logic: ControlMachineLogic = {}): ControlMachines {
  const connection = (logic.connection ?? connectionMachine).provide({
    actions: {
      announceOpen: () => effects.announceOpen(),
      endTransport: () => effects.endTransport(),
      destroyTransport: () => effects.destroyTransport(),
      announceClosed: ({ context }) => effects.announceClosed(context.closeReason!),
    },
  });
  const startTls = (logic.startTls ?? startTlsMachine).provide({
    actions: {
      beginHandshake: ({ event }) => {
        if (event.type === 'answered' || event.type === 'responded') effects.beginHandshake(event.tls as TlsOptions);
      },
      announceSecure: () => effects.announceSecure(),
      announceFailure: ({ event }) => {
        if (event.type === 'handshakeFailed') effects.announceTlsFailure(event.error);
      },
    },
  });
  const protocolSwitch = (logic.protocolSwitch ?? protocolSwitchMachine).provide({
    actions: {
      handOver: ({ event }) => {
        if (event.type === 'answered' || event.type === 'responded') effects.handOver(event.receiver);
      },
    },
  });
  const inputFlow = (logic.inputFlow ?? inputFlowMachine).provide({
    actions: {
      pauseInput: ({ event }) => effects.pauseInput(event.type),
      resumeInput: () => effects.resumeInput(),
    },
  });
  return {
    connection: createActor(connection, { inspect }).start(),
    startTls: createActor(startTls, { inspect }).start(),
    protocolSwitch: createActor(protocolSwitch, { inspect }).start(),
    inputFlow: createActor(inputFlow, { inspect }).start(),
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
