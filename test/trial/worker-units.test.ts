import { describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { AmpConnection } from '../../actors/amp-connection.js';
import { createMemoryPair } from '../../actors/memory-pair.js';
import { framesFromStack, outcomeFromLine, pythonClassFor, pythonMessageFor, type WorkerOutcome } from '../../actors/trial/node-tests.js';
import { ResultCollector, StreamRegistry, toFrames, type DialectChoice } from '../../actors/trial/result-collector.js';
import type { TrialResult } from '../../actors/trial/results.js';
import { TrialWorker, chunkText, fitValue, flattenFrames, parseWorkerArguments } from '../../actors/trial/worker.js';
import { Run, Start, type TrialDialect } from '../../codec/protocols/trial-commands.js';

const silent = pino({ level: 'silent' });
const LARGE = 70000;

const OUTCOMES: Record<string, WorkerOutcome[]> = {
  pass: [{ kind: 'success', testName: 'f::pass' }],
  fail: [{ kind: 'failure', testName: 'f::fail', errorClass: 'builtins.AssertionError', message: '1 !== 2', frames: [{ name: 'TestContext.<anonymous>', file: '/src/f.test.mjs', line: 7 }] }],
  error: [{ kind: 'error', testName: 'f::error', errorClass: 'builtins.TypeError', message: 'bad é', frames: [] }],
  large: [{ kind: 'error', testName: 'f::large', errorClass: 'builtins.Exception', message: 'é'.repeat(LARGE / 2), frames: [{ name: 'x', file: '/a.js', line: 1 }] }],
  skip: [{ kind: 'skip', testName: 'f::skip', reason: 'not here' }],
  todoFails: [{ kind: 'expectedFailure', testName: 'f::todoFails', todo: 'later', message: 'still broken' }],
  todoPasses: [{ kind: 'unexpectedSuccess', testName: 'f::todoPasses', todo: 'should fail' }],
  twoResults: [
    { kind: 'error', testName: 'f::twoResults', errorClass: 'builtins.Exception', message: 'first', frames: [] },
    { kind: 'error', testName: 'f::twoResults', errorClass: 'builtins.Exception', message: 'second', frames: [] },
  ],
  nothing: [],
};

/** A TS worker and the manager's collector over an in-memory pair: the whole protocol, no processes. */
function harness(workerDialect: TrialDialect, managerDialect: DialectChoice = 'auto') {
  const [a, b] = createMemoryPair();
  const logs: string[] = [];
  const streams = new StreamRegistry();
  const collector = new ResultCollector({ index: 0, dialect: managerDialect, streams, logger: silent, onLog: (text) => logs.push(text) });
  const manager = new AmpConnection(a, { responders: collector.responders(), logger: silent });
  const worker = new TrialWorker(b, {
    dialect: workerDialect,
    logger: silent,
    runTest: async (id, _cwd, onOutput) => {
      onOutput(`output of ${id}`);
      return OUTCOMES[id] ?? [];
    },
  });
  const run = async (id: string): Promise<{ results: TrialResult[]; success: boolean }> => {
    collector.begin(id);
    const { success } = await manager.callRemote(Run, { testCase: id });
    return { results: collector.end(), success };
  };
  return { manager, worker, collector, streams, logs, run };
}

describe('TrialWorker ↔ ResultCollector in memory', () => {
  for (const dialect of ['22.10', '22.4'] as const) {
    it(`reports every outcome kind in the ${dialect} dialect and the manager attributes them to the Run`, async () => {
      const h = harness(dialect);
      await expect(h.manager.callRemote(Start, { directory: process.cwd() })).resolves.toEqual({ success: true });
      const pass = await h.run('pass');
      expect(pass).toEqual({ success: true, results: [{ outcome: 'success', test: 'pass', reportedName: 'f::pass', origin: 'worker' }] });
      const fail = (await h.run('fail')).results[0]!;
      expect(fail).toMatchObject({ outcome: 'failure', errorClass: 'builtins.AssertionError', message: '1 !== 2', frames: [{ name: 'TestContext.<anonymous>', file: '/src/f.test.mjs', line: 7 }] });
      expect((await h.run('error')).results[0]).toMatchObject({ outcome: 'error', errorClass: 'builtins.TypeError', message: 'bad é', frames: [] });
      expect((await h.run('skip')).results[0]).toMatchObject({ outcome: 'skip', reason: 'not here' });
      expect((await h.run('todoFails')).results[0]).toMatchObject({ outcome: 'expectedFailure', todo: 'later', message: 'still broken' });
      expect((await h.run('todoPasses')).results[0]).toMatchObject({ outcome: 'unexpectedSuccess', todo: 'should fail' });
      expect((await h.run('twoResults')).results.map((r) => r.message)).toEqual(['first', 'second']);
      expect((await h.run('nothing')).results).toEqual([]);
      const large = (await h.run('large')).results[0]!;
      if (dialect === '22.10') {
        // Streams carry the whole 70 000-byte text (two chunks, one split inside an é).
        expect(large.message).toBe('é'.repeat(LARGE / 2));
      } else {
        // 22.4 cannot send it: cut to fit one AMP value, and it says so (a 22.4 Python worker loses it).
        expect(Buffer.byteLength(large.message!)).toBeLessThanOrEqual(65535);
        expect(large.message).toMatch(/cut from 70000 bytes; the 22\.4 trial dialect cannot send AMP values over 65535 bytes/);
      }
      expect(h.collector.dialect).toBe(dialect);
      expect(h.streams.size).toBe(0);
      expect(h.logs).toContain('--> fail <--');
      expect(h.logs).toContain('output of fail');
      expect(h.worker.run.getSnapshot().value).toBe('between');
      expect(h.worker.run.getSnapshot().context.runs).toBe(9);
    });
  }

  it('a manager forced to 22.4 answers StreamOpen UNHANDLED: the worker logs it and answers success=False', async () => {
    const h = harness('22.10', '22.4');
    const { results, success } = await h.run('fail');
    expect(success).toBe(false);
    expect(results).toEqual([]);
    expect(h.logs.some((l) => l.startsWith('Result reporting for fail failed: Code<UNHANDLED>'))).toBe(true);
  });

  it('a result in the other dialect than the forced one still becomes an error of the test', async () => {
    const h = harness('22.4', '22.10');
    const { results } = await h.run('error');
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ outcome: 'error', errorClass: 'ampstate.trial.MalformedResult' });
    expect(results[0]!.message).toMatch(/22\.4 dialect; this manager was told to speak 22\.10/);
  });
});

describe('TrialWorker options', () => {
  it('--force-gc calls global.gc around every test when exposed; inspect sees the run machine', async () => {
    const [a, b] = createMemoryPair();
    const manager = new AmpConnection(a, { responders: new ResultCollector({ index: 0, dialect: 'auto', streams: new StreamRegistry(), logger: silent }).responders(), logger: silent });
    const machines = new Set<string>();
    let calls = 0;
    const saved = (globalThis as { gc?: () => void }).gc;
    (globalThis as { gc?: () => void }).gc = () => void calls++;
    try {
      new TrialWorker(b, {
        forceGc: true,
        logger: silent,
        inspect: (event) => machines.add(String((event.actorRef as { logic?: { id?: string } }).logic?.id)),
        runTest: async (id) => [{ kind: 'success', testName: id }],
      });
      await manager.callRemote(Run, { testCase: 'x' });
      await manager.callRemote(Run, { testCase: 'y' });
    } finally {
      (globalThis as { gc?: () => void }).gc = saved;
    }
    expect(calls).toBe(4);
    expect(machines).toContain('trialRun');
    expect(machines).toContain('connection');
  });
});

describe('worker helpers', () => {
  it('parses its options and ignores unknown ones', () => {
    expect(parseWorkerArguments(['--force-gc', '--recursionlimit', '2000', '--dialect', '22.4', '--node-option=--import=tsx', 'stray'])).toEqual({
      dialect: '22.4',
      forceGc: true,
      nodeOptions: ['--import=tsx'],
    });
    expect(parseWorkerArguments([])).toEqual({ dialect: '22.10', forceGc: false, nodeOptions: [] });
  });

  it('logs an unknown dialect through its logger (library code never writes to stderr) and keeps the default', () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const stderr = vi.spyOn(process.stderr, 'write');
    try {
      expect(parseWorkerArguments(['--dialect', '23.1'], logger).dialect).toBe('22.10');
      expect(stderr).not.toHaveBeenCalled();
    } finally {
      stderr.mockRestore();
    }
    expect(lines.map((line) => JSON.parse(line) as { dialect: string; msg: string })).toMatchObject([{ dialect: '23.1', msg: expect.stringContaining('unknown --dialect') }]);
  });

  it('chunks text at 65535 bytes, possibly inside a character, and cuts 22.4 values on a boundary', () => {
    const chunks = chunkText('é'.repeat(35000));
    expect(chunks.map((c) => c.length)).toEqual([65535, 4465]);
    expect(Buffer.concat(chunks).toString('utf8')).toBe('é'.repeat(35000));
    expect(chunkText('')).toEqual([]);
    const cut = fitValue('é'.repeat(35000));
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(65535);
    expect(cut).not.toContain('\ufffd');
    expect(fitValue('short')).toBe('short');
  });

  it('flattens frames into triples and drops the oldest when a 22.4 list would not fit', () => {
    const frames = Array.from({ length: 3000 }, (_, i) => ({ name: `f${i}`, file: '/some/file.js', line: i }));
    const flat = flattenFrames(frames, 65535);
    expect(flat.length % 3).toBe(0);
    expect(flat.slice(-3)).toEqual(['f2999', '/some/file.js', '2999']);
    expect(flat.reduce((n, s) => n + 2 + Buffer.byteLength(s), 0)).toBeLessThanOrEqual(65535);
    expect(toFrames(['a', '/f', '3', 'b', '/g', 'x', 'partial'])).toEqual([
      { name: 'a', file: '/f', line: 3 },
      { name: 'b', file: '/g', line: 0 },
    ]);
  });

  it('shares one stream id counter and consumes streams once', () => {
    const streams = new StreamRegistry();
    expect([streams.open(), streams.open()]).toEqual([0, 1]);
    streams.write(1, Buffer.from('x'));
    expect(streams.take(1)).toEqual([Buffer.from('x')]);
    expect(() => streams.take(1)).toThrow(/unknown or already consumed stream id 1/);
  });
});

describe('node:test → trial mapping', () => {
  it('turns a V8 stack into outermost-first frames without node internals', () => {
    const stack = [
      'AssertionError [ERR_ASSERTION]: nope',
      '    at helper (file:///src/lib/h.mjs:3:9)',
      '    at TestContext.<anonymous> (file:///src/a.test.mjs:11:61)',
      '    at Test.runInAsyncScope (node:async_hooks:206:9)',
      '    at async Promise.all (index 0)',
      '    at file:///src/a.test.mjs:20:1',
    ].join('\n');
    expect(framesFromStack(stack)).toEqual([
      { name: '<anonymous>', file: '/src/a.test.mjs', line: 20 },
      { name: 'TestContext.<anonymous>', file: '/src/a.test.mjs', line: 11 },
      { name: 'helper', file: '/src/lib/h.mjs', line: 3 },
    ]);
  });

  it('maps every node:test result to the trial outcome the issue asks for', () => {
    const error = (name: string, extra = {}) => ({ failureType: 'testCodeFailure', name, message: 'm', stack: '', isAssertion: name === 'AssertionError', ...extra });
    expect(outcomeFromLine({ kind: 'pass', file: '/f', path: ['a'], suite: false }, 'id')).toEqual({ kind: 'success', testName: 'id' });
    expect(outcomeFromLine({ kind: 'fail', file: '/f', path: ['a'], suite: false, error: error('AssertionError') }, 'id')).toMatchObject({ kind: 'failure', errorClass: 'builtins.AssertionError' });
    expect(outcomeFromLine({ kind: 'fail', file: '/f', path: ['a'], suite: false, error: error('TypeError') }, 'id')).toMatchObject({ kind: 'error', errorClass: 'builtins.TypeError', message: 'm' });
    expect(outcomeFromLine({ kind: 'fail', file: '/f', path: ['a'], suite: false, error: error('MyError') }, 'id')).toMatchObject({ kind: 'error', errorClass: 'builtins.Exception', message: 'MyError: m' });
    expect(outcomeFromLine({ kind: 'pass', file: '/f', path: ['a'], suite: false, skip: 'why' }, 'id')).toEqual({ kind: 'skip', testName: 'id', reason: 'why' });
    expect(outcomeFromLine({ kind: 'pass', file: '/f', path: ['a'], suite: false, skip: true }, 'id')).toEqual({ kind: 'skip', testName: 'id', reason: '' });
    expect(outcomeFromLine({ kind: 'fail', file: '/f', path: ['a'], suite: false, todo: 'later', error: error('Error') }, 'id')).toEqual({ kind: 'expectedFailure', testName: 'id', todo: 'later', message: 'm' });
    expect(outcomeFromLine({ kind: 'pass', file: '/f', path: ['a'], suite: false, todo: true }, 'id')).toEqual({ kind: 'unexpectedSuccess', testName: 'id', todo: 'Test expected to fail' });
    // An assertion thrown from a hook is an error, not a failure of the test body.
    expect(outcomeFromLine({ kind: 'fail', file: '/f', path: ['a'], suite: false, error: error('AssertionError', { failureType: 'hookFailure' }) }, 'id')).toMatchObject({ kind: 'error', errorClass: 'builtins.AssertionError' });
    expect(pythonClassFor({ name: 'Error', failureType: 'testTimeoutFailure' })).toBe('builtins.TimeoutError');
    expect(pythonMessageFor({ name: 'RangeError', message: 'x', failureType: 'testCodeFailure' })).toBe('RangeError: x');
    expect(pythonMessageFor({ name: 'Error', message: 'x', failureType: 'testCodeFailure' })).toBe('x');
  });
});
