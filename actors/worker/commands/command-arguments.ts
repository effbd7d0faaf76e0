/**
 * Typed access to a command's canonical argument dict (docs/master-worker-protocol.md §3.1). Presence follows Buildbot: an
 * argument that is present but null counts as present (`'x' in args`), and flags use Python
 * truthiness because old masters send 0/1.
 */
import { InvalidArgumentError, MissingArgumentsError } from './errors.js';

export function pythonTruthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

export class CommandArguments {
  constructor(
    /** Buildbot's class name for this command, which appears in error texts. */
    readonly commandClass: string,
    private readonly args: Readonly<Record<string, unknown>>,
  ) {}

  requirePresent(names: readonly string[]): void {
    const missing = names.filter((name) => !this.has(name));
    if (missing.length > 0) throw new MissingArgumentsError(this.commandClass, missing);
  }

  has(name: string): boolean {
    return Object.hasOwn(this.args, name);
  }

  raw(name: string): unknown {
    return this.has(name) ? this.args[name] : undefined;
  }

  string(name: string): string {
    const value = this.raw(name);
    if (typeof value !== 'string') throw this.invalid(name, 'a string');
    return value;
  }

  optionalString(name: string): string | null {
    const value = this.raw(name);
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string') throw this.invalid(name, 'a string or null');
    return value;
  }

  /** `fallback` applies only when the argument is absent; an explicit null stays null. */
  optionalNumber(name: string, fallback: number | null = null): number | null {
    if (!this.has(name)) return fallback;
    const value = this.raw(name);
    if (value === null || value === undefined) return null;
    if (typeof value !== 'number' || Number.isNaN(value)) throw this.invalid(name, 'a number or null');
    return value;
  }

  /** A non-negative integer, as block sizes and byte limits must be. */
  optionalCount(name: string): number | null {
    const value = this.optionalNumber(name);
    if (value !== null && (!Number.isInteger(value) || value < 0)) throw this.invalid(name, 'a non-negative integer or null');
    return value;
  }

  positiveCount(name: string): number {
    const value = this.raw(name);
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw this.invalid(name, 'a positive integer');
    return value;
  }

  flag(name: string, fallback: boolean): boolean {
    return this.has(name) ? pythonTruthy(this.raw(name)) : fallback;
  }

  stringList(name: string): string[] {
    const value = this.raw(name);
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
      throw this.invalid(name, 'a list of strings');
    }
    return value as string[];
  }

  private invalid(name: string, expected: string): InvalidArgumentError {
    return new InvalidArgumentError(this.commandClass, name, expected);
  }
}
