/**
 * A fresh copy of test_gated.py as the package `multihost_gated`, with its gate.json: N tests that
 * each hold their trial worker until the gate opens (see the module's docstring).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GATED_PACKAGE = 'multihost_gated';
export const GATED_MODULE = `${GATED_PACKAGE}.test_gated`;
const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'test_gated.py');

export interface GateOptions {
  /** How many tests the module has. */
  readonly count: number;
  /** 0: every test waits for `release()`; K: each waits until K tests have started. */
  readonly waitFor: number;
  /** Open the gate before anything runs (a serial reference run). */
  readonly released?: boolean;
}

/** A test that reached the gate, and the processes it ran under. */
export interface GateMark {
  readonly test: string;
  readonly pid: number;
  /** Parent, grandparent, … up to (not including) pid 1. */
  readonly ancestors: readonly number[];
}

export class GatedPackage {
  /** The directory to put on PYTHONPATH. */
  readonly path: string;
  private readonly marks: string;

  constructor(root: string, readonly options: GateOptions) {
    this.path = root;
    this.marks = join(root, 'marks');
    const packageDir = join(root, GATED_PACKAGE);
    mkdirSync(packageDir, { recursive: true });
    mkdirSync(this.marks, { recursive: true });
    writeFileSync(join(packageDir, '__init__.py'), '');
    copyFileSync(SOURCE, join(packageDir, 'test_gated.py'));
    writeFileSync(join(packageDir, 'gate.json'), JSON.stringify({ marks: this.marks, count: options.count, waitFor: options.waitFor }));
    if (options.released) this.release();
  }

  /** Every test id, in trial's order. */
  get testIds(): string[] {
    return Array.from({ length: this.options.count }, (_, index) => `${GATED_MODULE}.GatedTests.test_gated_${String(index).padStart(2, '0')}`);
  }

  /** Opens the gate: waiting tests pass, later ones do not wait. */
  release(): void {
    writeFileSync(join(this.marks, 'release'), '');
  }

  get released(): boolean {
    return existsSync(join(this.marks, 'release'));
  }

  /** The tests that have reached the gate so far (a test run twice has two marks). */
  started(): GateMark[] {
    return readdirSync(this.marks)
      .filter((name) => name.startsWith('started-'))
      .map((name) => {
        const mark = JSON.parse(readFileSync(join(this.marks, name), 'utf8')) as { pid: number; ancestors: number[] };
        const test = name.slice('started-'.length, name.lastIndexOf('-'));
        return { test: `${GATED_MODULE}.GatedTests.${test}`, pid: mark.pid, ancestors: mark.ancestors };
      });
  }
}
