/**
 * The environment of a shell command's process: the worker's own, changed by the step's `env`
 * (docs/master-worker-protocol.md §3.3 "Environment rules").
 */
import { EnvironmentValueError, InvalidArgumentError } from './errors.js';

const VARIABLE_REFERENCE = /\$\{([0-9a-zA-Z_]*)\}/g;

export function computeChildEnvironment(
  overrides: unknown,
  workerEnviron: NodeJS.ProcessEnv,
  pathSeparator = ':',
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(workerEnviron)) {
    if (value !== undefined) result[name] = value;
  }
  if (overrides === null || overrides === undefined) return result;
  if (typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new InvalidArgumentError('WorkerShellCommand', 'env', 'a dict');
  }
  // `${NAME}` refers to the worker's environment as it was, not to values set earlier in `env`.
  const expand = (text: string): string => text.replace(VARIABLE_REFERENCE, (_match, name: string) => workerEnviron[name] ?? '');

  for (const [name, value] of Object.entries(overrides)) {
    if (value === null || value === undefined) {
      delete result[name];
      continue;
    }
    let text: string;
    if (typeof value === 'string') text = value;
    else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) text = value.join(pathSeparator);
    else throw new EnvironmentValueError(name);
    result[name] = expand(text);
  }
  // A step that sets PYTHONPATH must not lose the worker's own entries (which may hold Buildbot itself).
  if (Object.hasOwn(overrides, 'PYTHONPATH') && result['PYTHONPATH'] !== undefined) {
    result['PYTHONPATH'] += pathSeparator + (workerEnviron['PYTHONPATH'] ?? '');
  }
  return result;
}
