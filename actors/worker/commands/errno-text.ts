/**
 * Python reports filesystem failures with the C library's `strerror` text, and Buildbot puts that
 * text into headers (`mkdir: File exists: /p`) and stderr. libuv's messages (what Node's errors
 * carry) are worded differently, so the glibc texts are tabulated here.
 */
import { constants } from 'node:os';
import { pythonRepr } from '../../../codec/python-repr.js';

const GLIBC_STRERROR: Readonly<Record<string, string>> = {
  E2BIG: 'Argument list too long',
  EACCES: 'Permission denied',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  EAGAIN: 'Resource temporarily unavailable',
  EALREADY: 'Operation already in progress',
  EBADF: 'Bad file descriptor',
  EBADMSG: 'Bad message',
  EBUSY: 'Device or resource busy',
  ECANCELED: 'Operation canceled',
  ECHILD: 'No child processes',
  ECONNABORTED: 'Software caused connection abort',
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  EDEADLK: 'Resource deadlock avoided',
  EDESTADDRREQ: 'Destination address required',
  EDOM: 'Numerical argument out of domain',
  EDQUOT: 'Disk quota exceeded',
  EEXIST: 'File exists',
  EFAULT: 'Bad address',
  EFBIG: 'File too large',
  EHOSTUNREACH: 'No route to host',
  EIDRM: 'Identifier removed',
  EILSEQ: 'Invalid or incomplete multibyte or wide character',
  EINPROGRESS: 'Operation now in progress',
  EINTR: 'Interrupted system call',
  EINVAL: 'Invalid argument',
  EIO: 'Input/output error',
  EISCONN: 'Transport endpoint is already connected',
  EISDIR: 'Is a directory',
  ELOOP: 'Too many levels of symbolic links',
  EMFILE: 'Too many open files',
  EMLINK: 'Too many links',
  EMSGSIZE: 'Message too long',
  EMULTIHOP: 'Multihop attempted',
  ENAMETOOLONG: 'File name too long',
  ENETDOWN: 'Network is down',
  ENETRESET: 'Network dropped connection on reset',
  ENETUNREACH: 'Network is unreachable',
  ENFILE: 'Too many open files in system',
  ENOBUFS: 'No buffer space available',
  ENODATA: 'No data available',
  ENODEV: 'No such device',
  ENOENT: 'No such file or directory',
  ENOEXEC: 'Exec format error',
  ENOLCK: 'No locks available',
  ENOLINK: 'Link has been severed',
  ENOMEM: 'Cannot allocate memory',
  ENOMSG: 'No message of desired type',
  ENOPROTOOPT: 'Protocol not available',
  ENOSPC: 'No space left on device',
  ENOSR: 'Out of streams resources',
  ENOSTR: 'Device not a stream',
  ENOSYS: 'Function not implemented',
  ENOTCONN: 'Transport endpoint is not connected',
  ENOTDIR: 'Not a directory',
  ENOTEMPTY: 'Directory not empty',
  ENOTSOCK: 'Socket operation on non-socket',
  ENOTSUP: 'Operation not supported',
  ENOTTY: 'Inappropriate ioctl for device',
  ENXIO: 'No such device or address',
  EOPNOTSUPP: 'Operation not supported',
  EOVERFLOW: 'Value too large for defined data type',
  EPERM: 'Operation not permitted',
  EPIPE: 'Broken pipe',
  EPROTO: 'Protocol error',
  EPROTONOSUPPORT: 'Protocol not supported',
  EPROTOTYPE: 'Protocol wrong type for socket',
  ERANGE: 'Numerical result out of range',
  EROFS: 'Read-only file system',
  ESPIPE: 'Illegal seek',
  ESRCH: 'No such process',
  ESTALE: 'Stale file handle',
  ETIME: 'Timer expired',
  ETIMEDOUT: 'Connection timed out',
  ETXTBSY: 'Text file busy',
  EWOULDBLOCK: 'Resource temporarily unavailable',
  EXDEV: 'Invalid cross-device link',
};

export interface SystemErrorDetails {
  /** Symbolic name, e.g. `ENOENT`. */
  readonly code: string;
  /** The positive errno (Node's `error.errno` is negated on POSIX). */
  readonly errno: number;
  readonly strerror: string;
}

/** Errno details of a failed system call, or undefined for any other error. */
export function systemErrorDetails(error: unknown): SystemErrorDetails | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  const errno = (constants.errno as Record<string, number | undefined>)[code];
  if (errno === undefined) return undefined;
  return { code, errno, strerror: GLIBC_STRERROR[code] ?? code };
}

/** What Python's `str(OSError)` prints: `[Errno 2] No such file or directory: '/path'`. */
export function pythonOSErrorText(details: SystemErrorDetails, path: string | undefined): string {
  const prefix = `[Errno ${details.errno}] ${details.strerror}`;
  return path === undefined ? prefix : `${prefix}: ${pythonRepr(path)}`;
}
