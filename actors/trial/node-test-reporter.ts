import { writeSync } from 'node:fs';

/**
 * A node:test reporter (`node --test-reporter=<this file>`) that turns the test runner's events into
 * JSON lines the TypeScript trial worker reads: one line per finished test or suite, with the full
 * path of suite names (rebuilt from `test:start` nesting) and the thrown value described as plain
 * data. It runs inside the child process that executes the test file.
 *
 * With `AMPSTATE_TRIAL_REPORTER_FD` set, lines are written straight to that descriptor (the worker
 * gives the child an extra stdio pipe; Node's pipes are socket pairs, which `/dev/fd/N` cannot
 * open), so the test's own stdout stays separate. Otherwise they go to the reporter destination.
 */

export interface NodeTestErrorInfo {
  /** node:test's failure kind: testCodeFailure, hookFailure, testTimeoutFailure, subtestsFailed, … */
  readonly failureType: string | undefined;
  /** `name` of the thrown value (`AssertionError`, `TypeError`, …), or its typeof for non-errors. */
  readonly name: string;
  readonly message: string;
  readonly stack: string;
  readonly isAssertion: boolean;
}

export interface NodeTestLine {
  readonly kind: 'pass' | 'fail';
  readonly file: string | undefined;
  /** Suite and test names, outermost first, ending with this test's name. */
  readonly path: readonly string[];
  readonly suite: boolean;
  readonly skip?: string | boolean;
  readonly todo?: string | boolean;
  readonly error?: NodeTestErrorInfo;
}

interface TestEvent {
  readonly type: string;
  readonly data?: {
    readonly name?: string;
    readonly nesting?: number;
    readonly file?: string;
    readonly skip?: string | boolean;
    readonly todo?: string | boolean;
    readonly details?: { readonly type?: string; readonly error?: unknown };
  };
}

function describeValue(value: unknown): Omit<NodeTestErrorInfo, 'failureType'> {
  if (typeof value === 'object' && value !== null) {
    const error = value as { name?: unknown; message?: unknown; stack?: unknown; code?: unknown };
    const name = typeof error.name === 'string' ? error.name : (value.constructor?.name ?? 'Object');
    return {
      name,
      message: typeof error.message === 'string' ? error.message : String(value),
      stack: typeof error.stack === 'string' ? error.stack : '',
      isAssertion: error.code === 'ERR_ASSERTION' || name === 'AssertionError',
    };
  }
  return { name: typeof value, message: String(value), stack: '', isAssertion: false };
}

export function describeTestError(error: unknown): NodeTestErrorInfo {
  const wrapper = error as { code?: unknown; failureType?: unknown; cause?: unknown } | null | undefined;
  const failureType = typeof wrapper?.failureType === 'string' ? wrapper.failureType : undefined;
  // node:test wraps what the test threw in ERR_TEST_FAILURE; the interesting value is the cause.
  const inner = wrapper?.code === 'ERR_TEST_FAILURE' && wrapper.cause !== undefined ? wrapper.cause : error;
  return { failureType, ...describeValue(inner) };
}

export default async function* trialJsonReporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const stack: string[] = [];
  const fdText = process.env.AMPSTATE_TRIAL_REPORTER_FD;
  const fd = fdText === undefined || fdText === '' ? undefined : Number(fdText);
  for await (const event of source) {
    const data = event.data;
    if (data === undefined || typeof data.name !== 'string') continue;
    const nesting = data.nesting ?? 0;
    if (event.type === 'test:start') {
      stack.length = nesting;
      stack[nesting] = data.name;
      continue;
    }
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const line: NodeTestLine = {
      kind: event.type === 'test:pass' ? 'pass' : 'fail',
      file: data.file,
      path: [...stack.slice(0, nesting), data.name],
      suite: data.details?.type === 'suite',
      ...(data.skip === undefined || data.skip === false ? {} : { skip: data.skip }),
      ...(data.todo === undefined || data.todo === false ? {} : { todo: data.todo }),
      ...(event.type === 'test:fail' ? { error: describeTestError(data.details?.error) } : {}),
    };
    const text = `${JSON.stringify(line)}\n`;
    if (fd === undefined) yield text;
    else writeAll(fd, text);
  }
}

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  for (let offset = 0; offset < bytes.length; ) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (error) {
      // A non-blocking descriptor that is full: try again (the reader is another process).
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  }
}
