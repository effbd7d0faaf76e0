import { AmpStateError } from './errors.js';

/**
 * A Descriptor argument met a connection that cannot pass file descriptors (TCP, TLS, a plain UNIX
 * socket, an in-memory pair), or met the codec on its own. Only a UNIX socket opened with `fds=yes`
 * carries them (docs/amp-protocol.md §3.6).
 */
export class DescriptorsUnavailableError extends AmpStateError {
  override readonly code = 'AMP_ERR_DESCRIPTORS_UNAVAILABLE';
  constructor() {
    super('Descriptor arguments travel only over a UNIX socket connection opened with fds=yes (e.g. unix:path=/run/x.sock:fds=yes)');
  }
}

/** A box named a descriptor ordinal for which no descriptor has arrived, or one already claimed. */
export class UnknownDescriptorError extends AmpStateError {
  override readonly code = 'AMP_ERR_UNKNOWN_DESCRIPTOR';
  constructor(readonly ordinal: number) {
    super(`no file descriptor received for ordinal ${ordinal} (not yet arrived, or already claimed)`);
  }
}
