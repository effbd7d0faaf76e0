/**
 * Writing a file that holds a secret (a worker password, an admin token, password hashes): mode
 * 0600 from its first byte, and never silently over an existing one.
 */
import { constants } from 'node:fs';
import { chmod, open } from 'node:fs/promises';

/**
 * Writes `text` to `path` at mode 0600. Without `force` an existing file is refused with
 * `exists(message, cause)`, the caller's own error class.
 */
export async function writePrivateFile(
  path: string,
  text: string,
  options: { readonly force: boolean; readonly exists: (message: string, cause: unknown) => Error },
): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | (options.force ? constants.O_TRUNC : constants.O_EXCL);
  let file;
  try {
    file = await open(path, flags, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw options.exists(`${path} already exists; use --force to replace it`, error);
    throw error;
  }
  try {
    // An existing file keeps its mode on O_TRUNC: tighten it before the secret goes in.
    await file.chmod(0o600);
    await file.writeFile(text);
  } finally {
    await file.close();
  }
  await chmod(path, 0o600);
}
