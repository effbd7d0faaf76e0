import { setup } from 'xstate';

/**
 * StartTLS on one side (docs/amp-protocol.md §4). The asking side sends the request in plaintext
 * and holds every later box until TLS is up; the answering side prepares its certificate, writes
 * its answer in plaintext and turns to TLS straight after. Boxes sent while anything is pending
 * wait for the handshake (the actor holds them while the machine is in any state but `plain` and
 * `secure`), so nothing after the exchange leaves in plaintext. An error answer wedges
 * the asker: held boxes are never sent, as in Twisted. Only one StartTLS per connection: the actor
 * asks `can()` before it sends or answers one.
 */
export type StartTlsEvent =
  | { type: 'requested' }
  | { type: 'answered'; tls: TlsSettings }
  | { type: 'refused' }
  | { type: 'asked' }
  | { type: 'responded'; tls: TlsSettings }
  | { type: 'answerFailed' }
  | { type: 'handshakeDone' }
  | { type: 'handshakeFailed'; error: Error };

/** The certificate and trust settings the handshake uses: opaque to the machine, read by the actor. */
export type TlsSettings = object;

export const startTlsMachine = setup({
  types: { events: {} as StartTlsEvent },
  actions: {
    // Side effects, supplied by the actor through `provide`.
    beginHandshake: () => {},
    announceSecure: () => {},
    announceFailure: () => {},
  },
}).createMachine({
  id: 'startTls',
  initial: 'plain',
  states: {
    plain: {
      on: {
        requested: 'buffering',
        asked: 'answering',
      },
    },
    /** Our request is out: later boxes are held until the handshake is done. */
    buffering: {
      on: {
        answered: { target: 'handshaking', actions: 'beginHandshake' },
        refused: 'wedged',
      },
    },
    /** The peer asked: our certificate is being prepared, then the answer goes out in plaintext. */
    answering: {
      on: {
        responded: { target: 'handshaking', actions: 'beginHandshake' },
        answerFailed: 'plain',
      },
    },
    handshaking: {
      on: {
        handshakeDone: { target: 'secure', actions: 'announceSecure' },
        handshakeFailed: { target: 'failed', actions: 'announceFailure' },
      },
    },
    secure: { type: 'final' },
    /** The peer refused StartTLS: held boxes are never sent. */
    wedged: { type: 'final' },
    failed: { type: 'final' },
  },
});
