/**
 * The standing socket fuzz campaign (run-socket-fuzz.ts) in a child process started with
 * --expose-gc: damaged streams against a real loopback AMP server while a good client calls it.
 * The child runs from dist/ (built by `npm test`); its exit status and JSON report carry the
 * verdict. `npm run fuzz -- --streams 1000000` is the long run of the same code.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../support/run-cli.js';
import { expectationOf } from './stream-expectation.js';

const RUNNER = `${REPO_ROOT}dist/test/fuzzing/run-socket-fuzz.js`;
/**
 * Each stream is a new server connection, about 2.5 ms of CPU for both ends together, so 20,000
 * streams take well under a minute. FUZZ_STREAMS overrides it.
 */
const STREAMS = Number(process.env.FUZZ_STREAMS ?? 20_000);

describe('socket fuzzing', () => {
  it('the expectation reader knows which streams oblige the server to close', () => {
    const prefixed = (text: string) => Buffer.concat([Buffer.from([0, text.length]), Buffer.from(text, 'latin1')]);
    const box = (...strings: string[]) => Buffer.concat([...strings.map(prefixed), Buffer.from([0, 0])]);
    expect(expectationOf(box('_ask', '1', '_command', 'Hello'))).toBe('between-boxes');
    expect(expectationOf(box('_answer', '1'))).toBe('close');
    expect(expectationOf(box('_command', 'Nope'))).toBe('close');
    expect(expectationOf(box('k', 'v'))).toBe('close');
    expect(expectationOf(Buffer.from([0, 0]))).toBe('close');
    expect(expectationOf(Buffer.from([1, 0]))).toBe('close');
    expect(expectationOf(box('_ask', '1', '_command', 'Hello').subarray(0, 7))).toBe('mid-box');
  });

  it(`${STREAMS} damaged streams: bad connections closed, good calls all answered, heap and fds flat`, async () => {
    if (!existsSync(RUNNER)) throw new Error(`${RUNNER} is missing: build first (npx tsc -p .)`);
    const run = await runCli(RUNNER, ['--streams', String(STREAMS), '--json'], {
      env: { NODE_OPTIONS: '--expose-gc' },
      timeoutMs: 280_000,
    });
    const lastLine = run.stdout.trim().split('\n').at(-1) ?? '';
    expect(lastLine.startsWith('{'), `no report from the campaign (exit ${run.code}): ${run.stderr.slice(-2000)}`).toBe(true);
    const report = JSON.parse(lastLine) as Record<string, any>;
    expect(report.broken, JSON.stringify(report.violations)).toEqual([]);
    expect(report.streams).toBe(STREAMS);
    expect(report.badClosedByServer).toBe(report.badConnections);
    expect(report.badConnections).toBeGreaterThan(0);
    expect(report.byOutcome['probe-answered'], 'some damaged streams must still leave a clean state').toBeGreaterThan(0);
    expect(report.goodCalls.failed).toBe(0);
    expect(report.goodCalls.ok).toBeGreaterThan(0);
    expect(report.unhandledRejections).toBe(0);
    expect(report.fdsAfter).toBe(report.fdsBefore);
    expect(run.code).toBe(0);
  }, 300_000);
});
