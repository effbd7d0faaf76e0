/**
 * Twisted's own manager side (LocalWorkerAMP of each Twisted version of test/support/twisted-peers.ts,
 * through test/trial/drive_worker.py) driving the TypeScript worker (`node
 * dist/actors/trial/worker-main.js`) over real pipes on fds 3/4: Twisted 22.4 in the inline dialect,
 * Twisted 24.11 in the stream dialect.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import {
  JS_FIXTURES,
  ROOT,
  TRIAL_RUN_TIMEOUT,
  TWISTED_22_4,
  TWISTED_24_11,
  WORKER_MAIN,
  describeEachTwisted,
  ensureWorkerBuilt,
  freshDirectory,
  pythonEnv,
  runProcess,
  type TwistedPeer,
} from './helpers.js';

interface DriveEvent {
  kind: string;
  test: string;
  message: string | null;
  errorClass: string | null;
  frames: string[] | null;
  todo: string | null;
}
interface DriveRun {
  run: string;
  success: boolean | null;
  runError: { errorClass: string; message: string } | null;
  events: DriveEvent[];
  logs: string[];
  rejected: Array<{ command: string; error: string }>;
}
interface DriveOutput {
  start: { success: boolean } | { error: string };
  results: DriveRun[];
  rejected: unknown[];
  timedOut: boolean;
  exitCode: number | null;
}
interface ExpectedTest {
  name: string;
  kind: string;
  errorClass?: string;
  message?: string;
  sizeBytes?: number;
  line?: number;
  reason?: string;
  todo?: string;
  logs?: string[];
}

const FILE = 'test/trial/js-fixtures/outcomes.test.mjs';
const expected = JSON.parse(readFileSync(join(JS_FIXTURES, 'outcomes.expected.json'), 'utf8')) as { tests: ExpectedTest[] };

async function drive(twisted: TwistedPeer, ids: string[], workerArgs: string[]): Promise<DriveOutput> {
  const workdir = freshDirectory('ampstate-drive-worker-');
  const script = join(ROOT, 'test/trial/drive_worker.py');
  const args = [script, '--workdir', workdir, ...ids.flatMap((id) => ['--test', id]), '--', process.execPath, WORKER_MAIN, ...workerArgs];
  const result = await runProcess(twisted.python, args, { cwd: ROOT, env: pythonEnv([], twisted) });
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as DriveOutput;
}

describeEachTwisted("Twisted's LocalWorkerAMP → TypeScript worker", (twisted) => {
  beforeAll(() => ensureWorkerBuilt(), 120_000);

  it(`records the right result for every outcome kind (${twisted.dialect} dialect, as this version speaks)`, async () => {
    const ids = [...expected.tests.map((t) => `${FILE}::${t.name}`), `${FILE}::no such test`];
    // Unknown options (as a Python manager forwards them) are ignored.
    const out = await drive(twisted, ids, ['--dialect', twisted.dialect, '--recursionlimit', '2000', '--force-gc']);
    expect(out.start).toEqual({ success: true });
    expect(out.timedOut).toBe(false);
    expect(out.exitCode).toBe(0); // fd 3 closed → the worker exits 0
    expect(out.rejected).toEqual([]);
    for (const [index, test] of expected.tests.entries()) {
      const run = out.results[index]!;
      const id = `${FILE}::${test.name}`;
      expect(run.run).toBe(id);
      expect(run.success, id).toBe(true);
      expect(run.runError).toBeNull();
      expect(run.events, id).toHaveLength(1);
      const event = run.events[0]!;
      expect(event.kind, id).toBe(test.kind);
      expect(event.test).toBe(id);
      expect(run.logs[0]).toBe(`--> ${id} <--`);
      if (test.errorClass !== undefined) expect(event.errorClass, id).toBe(test.errorClass);
      if (test.message !== undefined) expect(event.message, id).toBe(test.message);
      if (test.sizeBytes !== undefined) {
        if (twisted.dialect === '22.4') {
          // 22.4 cannot carry 70 000 bytes in one value: cut to fit, and it says so (never lost).
          expect(Buffer.byteLength(event.message!)).toBeLessThanOrEqual(65535);
          expect(event.message!.startsWith('E'.repeat(60000))).toBe(true);
          expect(event.message).toContain('[ampstate: cut from 70000 bytes; the 22.4 trial dialect cannot send AMP values over 65535 bytes]');
        } else {
          // The stream dialect carries it whole, in chunks of at most 65535 bytes.
          expect(event.message).toBe('E'.repeat(test.sizeBytes));
        }
      }
      if (test.line !== undefined) {
        // Frames are name/file/line triples, outermost first: the test's own frame is the last one.
        expect(event.frames!.length % 3).toBe(0);
        expect(event.frames!.slice(-3)).toEqual(['TestContext.<anonymous>', join(ROOT, FILE), String(test.line)]);
      }
      if (test.reason !== undefined) expect(event.message).toBe(test.reason);
      if (test.todo !== undefined) expect(event.todo, id).toBe(test.todo);
      for (const line of test.logs ?? []) expect(run.logs).toContain(line);
    }
    const missing = out.results[expected.tests.length]!;
    expect(missing.events).toEqual([
      expect.objectContaining({ kind: 'error', errorClass: 'builtins.LookupError', message: `no node:test test named "no such test" in ${FILE}` }),
    ]);
  }, TRIAL_RUN_TIMEOUT);

  if (twisted === TWISTED_22_4) it('in its default stream dialect, a 22.4 manager answers StreamOpen UNHANDLED: the worker says so and answers success=False (Twisted 22.4)', async () => {
    const out = await drive(twisted, [`${FILE}::strict equal fails`, `${FILE}::pass one`], []);
    const [failed, passed] = out.results;
    expect(failed!.rejected.map((r) => r.error)).toContain('UNHANDLED');
    expect(failed!.success).toBe(false);
    expect(failed!.events).toEqual([]);
    expect(failed!.logs.some((l) => l.startsWith(`Result reporting for ${FILE}::strict equal fails failed: Code<UNHANDLED>`))).toBe(true);
    // Results that need no stream still get through, and the worker keeps working.
    expect(passed!.success).toBe(true);
    expect(passed!.events.map((e) => e.kind)).toEqual(['success']);
    expect(out.exitCode).toBe(0);
  }, TRIAL_RUN_TIMEOUT);

  if (twisted === TWISTED_24_11) it('told the 22.4 dialect, a 24.11 manager answers its inline reports UNKNOWN: the worker says so, answers success=False and keeps working (Twisted 24.11)', async () => {
    const out = await drive(twisted, [`${FILE}::strict equal fails`, `${FILE}::todo fails`, `${FILE}::pass one`], ['--dialect', '22.4']);
    const [failed, todo, passed] = out.results;
    // The 24.11 responders look for stream ids that inline reports lack; so does the worker's
    // follow-up AddError (docs/trial-protocol.md §4.4).
    expect(failed!.rejected).toEqual([
      { command: 'AddFailure', error: "builtins.KeyError: b'failStreamId'" },
      { command: 'AddError', error: "builtins.KeyError: b'errorStreamId'" },
    ]);
    expect(todo!.rejected.map((r) => r.command)).toEqual(['AddExpectedFailure', 'AddError']);
    for (const [run, name] of [[failed!, 'strict equal fails'], [todo!, 'todo fails']] as const) {
      expect(run.success).toBe(false);
      expect(run.events).toEqual([]);
      expect(run.logs).toContain(`Result reporting for ${FILE}::${name} failed: Code<UNKNOWN>: Unknown Error`);
    }
    expect(passed!.success).toBe(true);
    expect(passed!.events.map((e) => e.kind)).toEqual(['success']);
    expect(out.exitCode).toBe(0);
  }, TRIAL_RUN_TIMEOUT);
});
