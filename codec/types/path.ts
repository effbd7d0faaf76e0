import { posix } from 'node:path';
import { UnicodeType } from './unicode.js';

/**
 * A filesystem path as UTF-8 text. Twisted wraps it in a FilePath, which makes it absolute against
 * the process's working directory and normalises it; both directions do the same here.
 */
export class PathType extends UnicodeType {
  override readonly name = 'Path';

  override encode(value: string): string {
    return absolutePath(super.encode(value));
  }

  override get copiesOnDecode(): boolean {
    return true;
  }

  override decode(bytes: Buffer): string {
    return absolutePath(super.decode(bytes));
  }
}

/** posixpath.abspath: like path.resolve, except that POSIX keeps exactly two leading slashes. */
function absolutePath(text: string): string {
  const resolved = posix.resolve(text);
  return text.startsWith('//') && !text.startsWith('///') ? '/' + resolved : resolved;
}
