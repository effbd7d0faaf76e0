/**
 * The error hierarchy. Every error carries a stable `code` (as undici and ws do) so callers can
 * branch on it without parsing messages. Names mirror Twisted's exceptions where one exists.
 */
export class AmpStateError extends Error {
  readonly code: string = 'AMPSTATE_ERR';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Twisted's TooLong, raised locally: a key over 255 bytes or a value over 65535 bytes was sent. */
export class KeyTooLongError extends AmpStateError {
  override readonly code = 'AMP_ERR_KEY_TOO_LONG';
  constructor(
    readonly isLocal: boolean,
    readonly keyLength: number,
  ) {
    super(
      isLocal
        ? `AMP key is ${keyLength} bytes long; keys are limited to 255 bytes`
        : `received an AMP key length prefix of ${keyLength}; keys are limited to 255 bytes, closing the connection`,
    );
  }
}

/** A peer's box grew past the receiving connection's limit (`maxBoxBytes`); the connection closes. */
export class BoxTooLargeError extends AmpStateError {
  override readonly code = 'AMP_ERR_BOX_TOO_LARGE';
  constructor(
    readonly limit: number,
    /** The box's size so far, counting the string that went past the limit. */
    readonly size: number,
    /** That string's length (its prefix's value): what the framing machine is told in trace mode. */
    readonly stringLength: number,
  ) {
    super(`received an AMP box of at least ${size} bytes; boxes are limited to ${limit} bytes, closing the connection`);
  }
}

export class ValueTooLongError extends AmpStateError {
  override readonly code = 'AMP_ERR_VALUE_TOO_LONG';
  constructor(
    readonly keyName: string,
    readonly valueLength: number,
  ) {
    super(`value of AMP key '${keyName}' is ${valueLength} bytes long; values are limited to 65535 bytes`);
  }
}

/** An empty key would be read back as the end-of-box marker, corrupting the stream. */
export class EmptyKeyError extends AmpStateError {
  override readonly code = 'AMP_ERR_EMPTY_KEY';
  constructor() {
    super('AMP keys must be at least 1 byte long');
  }
}

/** A key that is not representable as bytes (a character above U+00FF). */
export class InvalidKeyError extends AmpStateError {
  override readonly code = 'AMP_ERR_INVALID_KEY';
  constructor(readonly key: string) {
    super(`AMP key ${JSON.stringify(key)} contains characters that are not single bytes`);
  }
}

/** Twisted's NoEmptyBoxes: a box with none of `_command`, `_answer`, `_error`. */
export class NoEmptyBoxesError extends AmpStateError {
  override readonly code = 'AMP_ERR_NO_EMPTY_BOXES';
  constructor(readonly keys: readonly string[]) {
    super(
      keys.length === 0
        ? 'received an empty AMP box'
        : `received an AMP box with none of _command, _answer or _error (keys: ${keys.join(', ')})`,
    );
  }
}

/** A value that its argument type cannot encode or decode. */
export class InvalidValueError extends AmpStateError {
  override readonly code = 'AMP_ERR_INVALID_VALUE';
  constructor(
    readonly typeName: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`${typeName}: ${reason}`, options);
  }
}

/** Wraps a value error with the argument (and command) it belongs to. */
export class InvalidArgumentError extends AmpStateError {
  override readonly code = 'AMP_ERR_INVALID_ARGUMENT';
  constructor(
    readonly commandName: string,
    readonly argumentName: string,
    cause: unknown,
  ) {
    super(
      `${commandName}: argument '${argumentName}': ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

export class MissingArgumentError extends AmpStateError {
  override readonly code = 'AMP_ERR_MISSING_ARGUMENT';
  constructor(
    readonly commandName: string,
    readonly argumentName: string,
  ) {
    super(`${commandName}: required argument '${argumentName}' is missing`);
  }
}

/** Twisted refuses to send an argument that the command does not declare; so do we. */
export class UnknownArgumentError extends AmpStateError {
  override readonly code = 'AMP_ERR_UNKNOWN_ARGUMENT';
  constructor(
    readonly commandName: string,
    readonly argumentName: string,
  ) {
    super(`${commandName}: argument '${argumentName}' is not declared by the command`);
  }
}

/** An error reply from the peer: `Code<CODE>: description`, as Twisted's RemoteAmpError prints. */
export class RemoteAmpError extends AmpStateError {
  override readonly code: string = 'AMP_ERR_REMOTE';
  constructor(
    readonly errorCode: string,
    readonly description: string,
  ) {
    super(`Code<${errorCode}>: ${description}`);
  }
}

/** The peer has no responder for the command (`UNHANDLED`). */
export class UnhandledCommandError extends RemoteAmpError {
  override readonly code = 'AMP_ERR_UNHANDLED_COMMAND';
}

/** Any error code the command does not declare, `UNKNOWN` included. */
export class UnknownRemoteError extends RemoteAmpError {
  override readonly code = 'AMP_ERR_UNKNOWN_REMOTE';
  /** The code the peer actually sent (`errorCode` is always UNKNOWN); absent when built locally. */
  readonly receivedCode: string | undefined;
  constructor(description: string, receivedCode?: string) {
    super('UNKNOWN', description);
    this.receivedCode = receivedCode;
  }
}

/** An answer or error for a tag that is not outstanding. */
export class UnknownTagError extends AmpStateError {
  override readonly code = 'AMP_ERR_UNKNOWN_TAG';
  constructor(readonly tag: string) {
    super(`received a reply for tag '${tag}', which is not outstanding; closing the connection`);
  }
}

/** Sending after the connection was locked for a protocol switch. */
export class ProtocolSwitchedError extends AmpStateError {
  override readonly code = 'AMP_ERR_PROTOCOL_SWITCHED';
  constructor() {
    super('this connection has switched (or is switching) to another protocol; no more boxes can be sent');
  }
}

/** The connection closed cleanly (Twisted's ConnectionDone). */
export class ConnectionDoneError extends AmpStateError {
  override readonly code: string = 'AMP_ERR_CONNECTION_DONE';
  constructor(message = 'connection was closed cleanly') {
    super(message);
  }
}

/** The connection was lost in a non-clean fashion (Twisted's ConnectionLost). */
export class ConnectionLostError extends AmpStateError {
  override readonly code: string = 'AMP_ERR_CONNECTION_LOST';
  constructor(message = 'connection to the other side was lost', options?: ErrorOptions) {
    super(message, options);
  }
}

export class OnlyOneTLSError extends AmpStateError {
  override readonly code = 'AMP_ERR_ONLY_ONE_TLS';
  constructor() {
    super('TLS was already started on this connection');
  }
}

/** A control machine would not take the event an operation needs, in the state it is in. */
export class EventRefusedError extends AmpStateError {
  override readonly code = 'AMP_ERR_EVENT_REFUSED';
  constructor(
    readonly machine: string,
    readonly state: string,
    readonly event: string,
  ) {
    super(`the ${machine} machine, in state ${state}, refuses ${event}`);
  }
}

/** The connection closed right after TLS started: the peer most likely rejected our certificate. */
export class PeerVerifyError extends AmpStateError {
  override readonly code = 'AMP_ERR_PEER_VERIFY';
  constructor(message = 'Peer rejected our certificate for an unknown reason.') {
    super(message);
  }
}

export class CallTimeoutError extends AmpStateError {
  override readonly code = 'AMP_ERR_CALL_TIMEOUT';
  constructor(
    readonly commandName: string,
    readonly ms: number,
  ) {
    super(`${commandName}: no answer within ${ms} ms`);
  }
}

/** The caller's AbortSignal fired before the answer came; a late answer is then ignored. */
export class CallCancelledError extends AmpStateError {
  override readonly code = 'AMP_ERR_CALL_CANCELLED';
  constructor(
    readonly commandName: string,
    options?: ErrorOptions,
  ) {
    super(`${commandName}: cancelled by the caller`, options);
  }
}

/**
 * A ByteStream value met the codec directly: only a connection can send or receive one, since it
 * travels as StreamOpen/StreamWrite/StreamClose commands around the box (docs/amp-protocol.md §7).
 */
export class StreamOutsideConnectionError extends AmpStateError {
  override readonly code = 'AMP_ERR_STREAM_OUTSIDE_CONNECTION';
  constructor() {
    super('a ByteStream value is sent and received through an AmpConnection, never encoded or decoded on its own');
  }
}

/** A stream id the receiver never opened, or that a command already consumed. */
export class UnknownStreamError extends AmpStateError {
  override readonly code = 'AMP_ERR_UNKNOWN_STREAM';
  constructor(description: string | number) {
    super(typeof description === 'number' ? `unknown or already consumed stream id ${description}` : description);
  }
}

/** The sender ended a stream with an error (its source failed, or its call was cancelled). */
export class StreamFailedError extends AmpStateError {
  override readonly code = 'AMP_ERR_STREAM_FAILED';
  constructor(
    readonly streamId: number,
    readonly reason: string,
  ) {
    super(`stream ${streamId} failed on the sending side: ${reason}`);
  }
}
