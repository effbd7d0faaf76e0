/**
 * Twisted's own manager side (LocalWorkerAMP of Twisted 22.4, through test/trial/drive_worker.py)
 * driving the TypeScript worker (`node dist/actors/trial/worker-main.js`) over real pipes on fds 3/4.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { JS_FIXTURES, PYTHON, ROOT, WORKER_MAIN, describeWithTwisted, ensureWorkerBuilt, runProcess } from './helpers.js';

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

async function drive(ids: string[], workerArgs: string[]): Promise<DriveOutput> {
  const args = [join(ROOT, 'test/trial/drive_worker.py'), ...ids.flatMap((id) => ['--test', id]), '--', process.execPath, WORKER_MAIN, ...workerArgs];
  const result = await runProcess(PYTHON, args, { cwd: ROOT });
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as DriveOutput;
}

describeWithTwisted("Twisted 22.4's LocalWorkerAMP → TypeScript worker", () => {
  beforeAll(() => ensureWorkerBuilt(), 120_000);

  it('records the right result for every outcome kind (22.4 inline dialect)', async () => {
    const ids = [...expected.tests.map((t) => `${FILE}::${t.name}`), `${FILE}::no such test`];
    // Unknown options (as a Python manager forwards them) are ignored.
    const out = await drive(ids, ['--dialect', '22.4', '--recursionlimit', '2000', '--force-gc']);
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
        // 22.4 cannot carry 70 000 bytes in one value: cut to fit, and it says so (never lost).
        expect(Buffer.byteLength(event.message!)).toBeLessThanOrEqual(65535);
        expect(event.message!.startsWith('E'.repeat(60000))).toBe(true);
        expect(event.message).toContain('[ampstate: cut from 70000 bytes; the 22.4 trial dialect cannot send AMP values over 65535 bytes]');
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
  });

  it('in its default stream dialect, a 22.4 manager answers StreamOpen UNHANDLED: the worker says so and answers success=False', async () => {
    const out = await drive([`${FILE}::strict equal fails`, `${FILE}::pass one`], []);
    const [failed, passed] = out.results;
    expect(failed!.rejected.map((r) => r.error)).toContain('UNHANDLED');
    expect(failed!.success).toBe(false);
    expect(failed!.events).toEqual([]);
    expect(failed!.logs.some((l) => l.startsWith(`Result reporting for ${FILE}::strict equal fails failed: Code<UNHANDLED>`))).toBe(true);
    // Results that need no stream still get through, and the worker keeps working.
    expect(passed!.success).toBe(true);
    expect(passed!.events.map((e) => e.kind)).toEqual(['success']);
    expect(out.exitCode).toBe(0);
  });
});
