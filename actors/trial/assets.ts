import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const runningFromDist = /[\\/]dist[\\/]actors[\\/]trial$/.test(here);
const repoRoot = resolve(here, runningFromDist ? '../../..' : '../..');

/**
 * Files the trial actors run in other processes. Compiled ones (the worker entry, the node:test
 * reporter) live in `dist/actors/trial/`; `list_tests.py` is not compiled and stays in
 * `actors/trial/`. This works from the sources (vitest) and from `dist/`.
 */
export function compiledAsset(name: string): string {
  const candidates = [join(here, name), join(repoRoot, 'dist', 'actors', 'trial', name)];
  return candidates.find((path) => existsSync(path)) ?? candidates[candidates.length - 1]!;
}

export function sourceAsset(name: string): string {
  const candidates = [join(here, name), join(repoRoot, 'actors', 'trial', name)];
  return candidates.find((path) => existsSync(path)) ?? candidates[candidates.length - 1]!;
}
