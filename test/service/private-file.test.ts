import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AmpStateError } from '../../codec/errors.js';
import { writePrivateFile } from '../../actors/service/private-file.js';
import { temporaryDirectory } from '../support/temp-directory.js';

class ExistsError extends AmpStateError {
  override readonly code = 'TEST_ERR_EXISTS';
}

const exists = (message: string, cause: unknown) => new ExistsError(message, { cause });

function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

describe('writePrivateFile', () => {
  it('writes a new file at mode 0600', async () => {
    const path = join(temporaryDirectory('ampstate-private-'), 'secret');
    await writePrivateFile(path, 'hush\n', { force: false, exists });
    expect(readFileSync(path, 'utf8')).toBe('hush\n');
    expect(modeOf(path)).toBe(0o600);
  });

  it("refuses an existing file with the caller's error, and leaves it as it was", async () => {
    const path = join(temporaryDirectory('ampstate-private-'), 'secret');
    writeFileSync(path, 'old\n');
    await expect(writePrivateFile(path, 'new\n', { force: false, exists })).rejects.toThrow(new ExistsError(`${path} already exists; use --force to replace it`));
    expect(readFileSync(path, 'utf8')).toBe('old\n');
  });

  it('replaces an existing world-readable file with force, tightening it to 0600', async () => {
    const path = join(temporaryDirectory('ampstate-private-'), 'secret');
    writeFileSync(path, 'a longer old secret\n', { mode: 0o644 });
    await writePrivateFile(path, 'new\n', { force: true, exists });
    expect(readFileSync(path, 'utf8')).toBe('new\n');
    expect(modeOf(path)).toBe(0o600);
  });
});
