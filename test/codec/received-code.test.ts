/** An undeclared error code keeps what the peer sent, as a typed property of the error. */
import { describe, expect, it } from 'vitest';
import { remoteErrorFromReply } from '../../codec/command.js';
import { UnhandledCommandError, UnknownRemoteError } from '../../codec/errors.js';

describe('remoteErrorFromReply', () => {
  it('keeps an undeclared code as receivedCode on the UnknownRemoteError', () => {
    const error = remoteErrorFromReply('QUOTA_EXCEEDED', 'too many');
    expect(error).toBeInstanceOf(UnknownRemoteError);
    const unknown = error as UnknownRemoteError;
    expect(unknown.receivedCode).toBe('QUOTA_EXCEEDED');
    expect(unknown.errorCode).toBe('UNKNOWN');
    expect(unknown.description).toBe('too many');
    expect(Object.keys(unknown)).toContain('receivedCode');
  });

  it('keeps UNHANDLED as its own class', () => {
    expect(remoteErrorFromReply('UNHANDLED', 'no responder')).toBeInstanceOf(UnhandledCommandError);
  });

  it('has no receivedCode on an UnknownRemoteError made locally', () => {
    expect(new UnknownRemoteError('x').receivedCode).toBeUndefined();
  });
});
