import { setup } from 'xstate';

/**
 * StartTLS on one side (spec §4). The asking side sends the request in plaintext and buffers every
 * later box until the answer arrives; the answering side writes its answer in plaintext and turns
 * to TLS straight after. An error answer wedges the asker in buffering, as Twisted does.
 */
export type StartTlsEvent =
  | { type: 'requested' }
  | { type: 'answered' }
  | { type: 'refused' }
  | { type: 'responded' }
  | { type: 'handshakeDone' }
  | { type: 'handshakeFailed' };

export const startTlsMachine = setup({
  types: { events: {} as StartTlsEvent },
}).createMachine({
  id: 'startTls',
  initial: 'plain',
  states: {
    plain: {
      on: {
        requested: 'buffering',
        // The responder answers, then starts TLS at once: there is nothing to buffer on its side.
        responded: 'handshaking',
      },
    },
    buffering: {
      on: {
        answered: 'handshaking',
        refused: 'wedged',
      },
    },
    handshaking: {
      on: {
        handshakeDone: 'secure',
        handshakeFailed: 'failed',
      },
    },
    secure: { type: 'final' },
    /** The peer refused StartTLS: queued boxes are never sent. */
    wedged: { type: 'final' },
    failed: { type: 'final' },
  },
});
