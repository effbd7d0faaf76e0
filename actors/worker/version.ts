import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The ampstate package version, reported as the worker's `version` (docs/master-worker-protocol.md §1.3). Found by walking up
 * from this module, which lives at a different depth in the sources and in dist/.
 */
export function ampstateVersion(): string {
  if (cached !== undefined) return cached;
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'ampstate' && typeof manifest.version === 'string') return (cached = manifest.version);
    } catch {
      // not here; keep walking
    }
    const parent = dirname(directory);
    if (parent === directory) return (cached = 'unknown');
    directory = parent;
  }
}
