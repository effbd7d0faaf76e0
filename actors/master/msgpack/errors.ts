/**
 * Errors of the msgpack transport (Buildbot's `msgpack_experimental_v7`). Each has a stable `code`.
 * Over msgpack only an error's text crosses the wire, so the peer's refusals arrive as
 * {@link MsgpackRemoteError} carrying that text.
 */
import { AmpStateError } from '../../../codec/errors.js';

/** The peer answered a request with `is_exception: true`; `message` is its `result` text. */
export class MsgpackRemoteError extends AmpStateError {
  override readonly code = 'MSGPACK_ERR_REMOTE';
  constructor(
    readonly op: string,
    readonly remoteMessage: string,
  ) {
    super(remoteMessage);
  }
}

/** A frame that is not a msgpack map with string keys. It is dropped; the connection stays up. */
export class MsgpackFrameError extends AmpStateError {
  override readonly code = 'MSGPACK_ERR_FRAME';
}

/** A value the master cannot put in a msgpack message (a function, a symbol, a cycle). */
export class MsgpackEncodeError extends AmpStateError {
  override readonly code = 'MSGPACK_ERR_ENCODE';
}

/**
 * One of the builder-directory commands the master runs itself during remoteSetBuilderList
 * (listdir, stat, rmdir, mkdir) failed; the handshake fails with it, as Buildbot's does.
 */
export class BuilderDirectoryError extends AmpStateError {
  override readonly code = 'MSGPACK_ERR_BUILDER_DIRECTORY';
}

/** A worker message (a request, or the answer to ours) lacking a field it needs, or with a value of the wrong kind. */
export class MalformedRequestError extends AmpStateError {
  override readonly code = 'MSGPACK_ERR_MALFORMED_REQUEST';
}

/** An `update` whose args are not a list of `[key, value]` pairs. */
export class MalformedUpdateError extends AmpStateError {
  override readonly code = 'MSGPACK_ERR_MALFORMED_UPDATE';
}
