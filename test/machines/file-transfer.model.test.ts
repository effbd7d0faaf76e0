/**
 * Model-based test of the fileTransfer machine against its three actors: a FileWriter for a file
 * upload, a FileWriter for a directory upload (a tar unpacked at the end) and a FileReader serving
 * a download. For each, every transition the actor can make is given by concrete payload variants
 * (block sizes, fault kinds), and every shortest path, every simple path and a shortest path
 * followed by every accepted event (self-loops included) are replayed through the actor's own calls
 * (`remoteWrite`, `remoteClose`, `read`, `cancel`, `purge`…).
 *
 * Real files on disk, with a thin fault-injecting layer over `node:fs/promises`: a call can be held
 * (so `closing` and `unpacking`, which the actor passes through on its own, stay visible) and a
 * call can fail (ENOSPC on a write, EIO on a close or a read, EACCES on the rename…). The source of
 * a download is a file the test grows and truncates, so end of file comes when the test says.
 *
 * After every step the state shown by the actor's BEHAVIOUR must equal the machine's: what its
 * calls did (pending, resolved, rejected with an I/O error), what is on disk (temp file, destination
 * and their bytes, mode and times; the unpacked tree; whether the source is still open), whether
 * `progress$` completed; and the machine's bytes, block count and failure reason must match.
 */
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { AnyMachineSnapshot } from 'xstate';
import { TransferStateError } from '../../actors/master/errors.js';
import { FileReader } from '../../actors/master/file-reader.js';
import { FileWriter, TEMP_PREFIX } from '../../actors/master/file-writer.js';
import { fileTransferMachine, type FileTransferContext, type FileTransferEvent } from '../../machines/file-transfer.js';
import { makeTar } from '../master/tar-fixture.js';
import { eventLabel, eventually, modelPaths, uncoveredTransitions, type ModelPath } from './model-paths.js';

// ------------------------------------------------------------------ fault-injecting fs

const fsControl = vi.hoisted(() => {
  interface Hold {
    reached: boolean;
    wait: Promise<void>;
    release(error?: Error): void;
  }
  return {
    /** One-shot failures by operation: open, rename, utimes, handle.writev (the writer's batches), handle.read, handle.close. */
    faults: new Map<string, Error>(),
    /** One-shot holds: the next such call waits until released (and fails if released with an error). */
    holds: new Map<string, Hold>(),
    hold(op: string): Hold {
      let release!: (error?: Error) => void;
      const wait = new Promise<void>((resolve, reject) => (release = (error) => (error === undefined ? resolve() : reject(error))));
      const hold: Hold = { reached: false, wait, release };
      this.holds.set(op, hold);
      return hold;
    },
    async intercept(op: string): Promise<void> {
      const hold = this.holds.get(op);
      if (hold !== undefined) {
        this.holds.delete(op);
        hold.reached = true;
        await hold.wait;
      }
      const fault = this.faults.get(op);
      if (fault !== undefined) {
        this.faults.delete(op);
        throw fault;
      }
    },
  };
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const wrapHandle = (handle: import('node:fs/promises').FileHandle) =>
    new Proxy(handle, {
      get(target, prop) {
        if (prop === 'write' || prop === 'writev' || prop === 'read' || prop === 'close') {
          return async (...args: unknown[]) => {
            await fsControl.intercept(`handle.${prop}`);
            return (target[prop] as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  const open = async (...args: Parameters<typeof real.open>) => {
    await fsControl.intercept('open');
    return wrapHandle(await real.open(...args));
  };
  const rename = async (...args: Parameters<typeof real.rename>) => {
    await fsControl.intercept('rename');
    return real.rename(...args);
  };
  const utimes = async (...args: Parameters<typeof real.utimes>) => {
    await fsControl.intercept('utimes');
    return real.utimes(...args);
  };
  return { ...real, open, rename, utimes, default: { ...real, open, rename, utimes } };
});

function fault(message: string): Error {
  return Object.assign(new Error(message), { code: message.split(':')[0] });
}

const root = mkdtempSync(join(tmpdir(), 'ampstate-ft-model-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  fsControl.faults.clear();
  fsControl.holds.clear();
});

// ------------------------------------------------------------------ events, per actor

/** A machine event plus how the test brings it about, where there is more than one way. */
type Event = FileTransferEvent & { readonly via?: string };

const R = {
  write: 'ENOSPC: no space left on device, write',
  open: 'EMFILE: too many open files, open',
  close: 'EIO: i/o error, close',
  rename: 'EACCES: permission denied, rename',
  read: 'EIO: i/o error, read',
  utimes: 'EPERM: operation not permitted, utime',
  empty: 'cannot read archive: TAR_BAD_ARCHIVE: Unrecognized archive format',
} as const;

const fail = (reason: string, via: string): Event => ({ type: 'fail', reason, via });
const UTIME: Event = { type: 'utime' };
const CLOSE: Event = { type: 'close' };
const CLOSED: Event = { type: 'closed' };
const CANCEL: Event = { type: 'cancel' };
const CANCEL_BY_PURGE: Event = { type: 'cancel', via: 'purge()' };
const PURGE: Event = { type: 'purge' };

type Snapshot = AnyMachineSnapshot & { context: FileTransferContext };
type EventsOf = (snapshot: Snapshot) => readonly Event[];

/** A file upload: blocks of 3 and 0 bytes; faults on open (first write only), write, close, rename, utime. */
const fileWriterEvents: EventsOf = ({ value, context }) => {
  switch (value) {
    case 'transferring':
      return [
        { type: 'block', bytes: 3 },
        { type: 'block', bytes: 0 },
        UTIME,
        CLOSE,
        fail(R.write, 'write'),
        ...(context.blocks === 0 ? [fail(R.open, 'open')] : []),
        CANCEL,
        CANCEL_BY_PURGE,
      ];
    case 'closing':
      return [CLOSED, fail(R.close, 'close'), fail(R.rename, 'rename')];
    case 'closed':
      return [UTIME, CLOSE, CANCEL, PURGE, fail(R.utimes, 'utime')];
    default:
      return [CANCEL, PURGE];
  }
};

/**
 * A directory upload: blocks are whole tar entries (a 1024-byte file, a 512-byte directory); an
 * empty tar cannot be unpacked, so `unpacked` needs a block. No utime once closed: a worker sends
 * none for directories, and there is no destination to set it on (see the gaps in the report).
 */
const directoryWriterEvents: EventsOf = ({ value, context }) => {
  switch (value) {
    case 'transferring':
      return [
        { type: 'block', bytes: 1024 },
        { type: 'block', bytes: 512 },
        UTIME,
        CLOSE,
        { type: 'unpack' },
        fail(R.write, 'write'),
        ...(context.blocks === 0 ? [fail(R.open, 'open')] : []),
        CANCEL,
        CANCEL_BY_PURGE,
      ];
    case 'closing':
      return [CLOSED, fail(R.close, 'close')];
    case 'unpacking':
      return context.blocks === 0 ? [fail(R.empty, 'empty tar'), fail(R.close, 'close')] : [{ type: 'unpacked' }, fail(R.close, 'close'), fail(R.read, 'extract')];
    case 'closed':
      return [CLOSE, CANCEL, PURGE];
    default:
      return [CANCEL, PURGE];
  }
};

/** A download: reads of 3 and 0 bytes, end of file, a read fault; nothing of a FileReader fails later. */
const readerEvents: EventsOf = ({ value }) => {
  switch (value) {
    case 'transferring':
      return [{ type: 'block', bytes: 3 }, { type: 'block', bytes: 0 }, { type: 'eof' }, CLOSE, fail(R.read, 'read'), CANCEL];
    case 'drained':
      return [{ type: 'eof' }, CLOSE, CANCEL];
    case 'closing':
      return [CLOSED];
    case 'closed':
      return [CLOSE, CANCEL];
    default:
      return [CANCEL];
  }
};

function pathsFor(events: EventsOf): ModelPath<Event>[] {
  const serializeState = (snapshot: AnyMachineSnapshot) => `${String(snapshot.value)}|${Math.min((snapshot as Snapshot).context.blocks, 1)}`;
  return modelPaths(fileTransferMachine, events as (snapshot: AnyMachineSnapshot) => readonly Event[], {
    label: eventLabel,
    // Bytes and blocks grow without end: a vertex only knows whether a block was moved yet.
    serializeState,
    limit: 10_000,
    everyTransition: true,
  });
}

// ------------------------------------------------------------------ shared bookkeeping

interface Call {
  readonly op: string;
  outcome: 'pending' | 'resolved' | 'rejected';
  error?: Error;
}

function calls() {
  const list: Call[] = [];
  return {
    list,
    track<T>(op: string, promise: Promise<T>): Promise<T | undefined> {
      const call: Call = { op, outcome: 'pending' };
      list.push(call);
      return promise.then(
        (value) => ((call.outcome = 'resolved'), value),
        (error: Error) => ((call.outcome = 'rejected'), (call.error = error), undefined),
      );
    },
    pending: (op: string) => list.some((call) => call.op === op && call.outcome === 'pending'),
    resolved: (op: string) => list.some((call) => call.op === op && call.outcome === 'resolved'),
    /** The I/O failure the actor reported, if any (a refused call is a TransferStateError instead). */
    ioFailure: () => list.find((call) => call.outcome === 'rejected' && !(call.error instanceof TransferStateError))?.error,
    refused: () => list.filter((call) => call.error instanceof TransferStateError),
  };
}

let counter = 0;
function freshDir(): string {
  const dir = join(root, String(++counter));
  mkdirSync(dir);
  return dir;
}

function statOf(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ the writer harness

function writerSubject(directory: boolean) {
  const dir = freshDir();
  const out = join(dir, 'out');
  const destination = join(out, directory ? 'tree' : 'dest.bin');
  const writer = new FileWriter({ destination, directory, mode: directory ? null : 0o640 });
  const log = calls();
  const written: Buffer[] = [];
  const entries: string[] = [];
  const seen = { progress: 0, progressDone: false, times: undefined as [number, number] | undefined, tarDiscarded: false };
  writer.progress$.subscribe({ next: () => seen.progress++, complete: () => (seen.progressDone = true) });
  let held: ReturnType<typeof fsControl.hold> | undefined;

  const temps = () => (statOf(out) === undefined ? [] : readdirSync(out).filter((name) => name.startsWith(TEMP_PREFIX)));

  const observe = (): string => {
    if (log.pending('close')) return 'closing';
    if (log.pending('unpack')) return 'unpacking';
    if (log.ioFailure() !== undefined) return 'failed';
    if (log.resolved('unpack')) return 'unpacked';
    if (log.resolved('close')) {
      // A file's destination is on disk once closed; purging removes it. A directory's tar waits.
      if (!directory) return statOf(destination) === undefined ? 'purged' : 'closed';
      return log.resolved('purge') ? 'purged' : 'closed';
    }
    return seen.progressDone ? 'cancelled' : 'transferring';
  };

  const nextBlock = (bytes: number): Buffer => {
    if (!directory) return Buffer.from('abc'.slice(0, bytes));
    const name = bytes === 512 ? `d${entries.length}` : `f${entries.length}.txt`;
    entries.push(name);
    const tar = makeTar([bytes === 512 ? { name, type: 'dir' } : { name, data: `block ${entries.length}\n` }]);
    return tar.subarray(0, tar.length - 1024);
  };

  const act = async (event: Event, state: string): Promise<void> => {
    switch (event.type) {
      case 'block': {
        const data = nextBlock(event.bytes);
        expect(data.length).toBe(event.bytes);
        await log.track('write', writer.remoteWrite(data));
        written.push(data);
        break;
      }
      case 'utime': {
        const times: [number, number] = [1_600_000_000 + counter, 1_600_000_500 + log.list.length];
        await log.track('utime', writer.remoteUtime(times));
        seen.times = times;
        break;
      }
      case 'close':
        if (state === 'closed') {
          await log.track('close again', writer.remoteClose());
          break;
        }
        held = fsControl.hold('handle.close');
        void log.track('close', writer.remoteClose());
        await eventually(() => held?.reached, true);
        break;
      case 'unpack':
        held = fsControl.hold('handle.close');
        void log.track('unpack', writer.remoteUnpack());
        await eventually(() => held?.reached, true);
        break;
      case 'closed':
      case 'unpacked':
        held?.release();
        await eventually(() => log.pending('close') || log.pending('unpack'), false);
        break;
      case 'fail':
        if (state === 'transferring') {
          fsControl.faults.set(event.via === 'open' ? 'open' : 'handle.writev', fault(event.reason));
          await log.track('write', writer.remoteWrite(nextBlock(directory ? 1024 : 3)));
        } else if (state === 'closed') {
          fsControl.faults.set('utimes', fault(event.reason));
          await log.track('utime', writer.remoteUtime([1, 2]));
        } else {
          // Held in closing or unpacking: the close itself fails, or what comes after it.
          if (event.via === 'rename') fsControl.faults.set('rename', fault(event.reason));
          if (event.via === 'extract') fsControl.faults.set('handle.read', fault(event.reason));
          if (event.via === 'close') held?.release(fault(event.reason));
          else held?.release();
          await eventually(() => log.pending('close') || log.pending('unpack'), false);
        }
        break;
      case 'cancel':
        if (event.via === 'purge()') await log.track('purge', writer.purge());
        else await log.track('cancel', writer.cancel());
        if (state === 'closed') seen.tarDiscarded = true;
        break;
      case 'purge':
        await log.track('purge', writer.purge());
        break;
      default:
        throw new Error(`a FileWriter makes no ${event.type}`);
    }
  };

  /** What must be on disk (and in the context) in each state. */
  const check = (state: string, context: FileTransferContext): void => {
    expect(log.refused()).toEqual([]);
    const data = Buffer.concat(written);
    const dest = statOf(destination);
    const tempFiles = temps();
    expect(data.length).toBe(context.bytes);
    if (state !== 'failed') expect(seen.progress).toBe(context.blocks);
    // A closed directory upload keeps its tar (and progress$) until cancelled; the cancel discards
    // it but leaves the machine `closed` (see the report: nothing is on disk any more).
    const open = ['transferring', 'closing', 'unpacking', ...(directory && !seen.tarDiscarded ? ['closed'] : [])];
    expect(seen.progressDone).toBe(!open.includes(state));
    switch (state) {
      case 'transferring':
        expect(dest).toBeUndefined();
        expect(tempFiles.length).toBe(context.blocks > 0 ? 1 : 0);
        if (tempFiles[0] !== undefined) expect(readFileSync(join(out, tempFiles[0]))).toEqual(data);
        break;
      case 'closing':
      case 'unpacking':
        expect(dest).toBeUndefined();
        expect(tempFiles.length).toBe(1);
        break;
      case 'closed':
        if (directory) {
          expect(dest).toBeUndefined();
          expect(tempFiles.length).toBe(seen.tarDiscarded ? 0 : 1);
        } else {
          expect(tempFiles).toEqual([]);
          expect(readFileSync(destination)).toEqual(data);
          expect(dest!.mode & 0o777).toBe(0o640);
          if (seen.times !== undefined) expect(dest!.mtimeMs / 1000).toBe(seen.times[1]);
        }
        break;
      case 'unpacked':
        expect(tempFiles).toEqual([]);
        expect(readdirSync(destination).sort()).toEqual([...entries].sort());
        break;
      case 'failed':
        expect(tempFiles).toEqual([]);
        expect(log.ioFailure()?.message).toBe(context.reason);
        break;
      case 'cancelled':
      case 'purged':
        expect(tempFiles).toEqual([]);
        expect(dest).toBeUndefined();
        break;
    }
  };

  const cleanup = async () => {
    held?.release();
    await writer.cancel();
  };
  return { writer, observe, act, check, cleanup, actor: writer.actor };
}

// ------------------------------------------------------------------ the reader harness

/** Paths (from /proc) of this process's open file descriptors. */
function openFiles(): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [readlinkSync(join('/proc/self/fd', fd))];
    } catch {
      return [];
    }
  });
}

async function readerSubject() {
  const source = join(freshDir(), 'source.bin');
  let content = Buffer.from('0123456789');
  writeFileSync(source, content);
  const reader = new FileReader({ source });
  // As downloadFile does: opened before the worker is asked, so a missing source fails early.
  await reader.open();
  const log = calls();
  const received: Buffer[] = [];
  const seen = { progress: 0, progressDone: false, eof: false };
  reader.progress$.subscribe({ next: () => seen.progress++, complete: () => (seen.progressDone = true) });
  let held: ReturnType<typeof fsControl.hold> | undefined;

  const observe = (): string => {
    if (log.pending('close')) return 'closing';
    if (log.ioFailure() !== undefined) return 'failed';
    if (log.resolved('close')) return 'closed';
    if (log.resolved('cancel')) return 'cancelled';
    return seen.eof ? 'drained' : 'transferring';
  };

  const read = async (length: number) => {
    const block = await log.track('read', reader.read(length));
    if (block === undefined) return;
    received.push(block);
    if (block.length === 0 && length > 0) seen.eof = true;
  };

  const act = async (event: Event, state: string): Promise<void> => {
    const offset = Buffer.concat(received).length;
    switch (event.type) {
      case 'block':
        // The file grows as needed: a block is never short.
        if (content.length < offset + event.bytes) {
          appendFileSync(source, 'abcdefghij');
          content = readFileSync(source);
        }
        await read(event.bytes);
        break;
      case 'eof':
        if (state === 'drained') {
          // Once drained it stays drained, even if the file grows.
          appendFileSync(source, 'more');
          content = readFileSync(source);
        } else {
          truncateSync(source, offset);
          content = readFileSync(source);
        }
        await read(16);
        break;
      case 'close':
        if (state === 'closed') {
          await log.track('close again', reader.close());
          break;
        }
        held = fsControl.hold('handle.close');
        void log.track('close', reader.close());
        await eventually(() => held?.reached, true);
        break;
      case 'closed':
        held?.release();
        await eventually(() => log.pending('close'), false);
        break;
      case 'fail':
        fsControl.faults.set('handle.read', fault(event.reason));
        await read(3);
        break;
      case 'cancel':
        await log.track('cancel', reader.cancel());
        break;
      default:
        throw new Error(`a FileReader makes no ${event.type}`);
    }
  };

  const check = (state: string, context: FileTransferContext): void => {
    expect(log.refused()).toEqual([]);
    const data = Buffer.concat(received);
    expect(data).toEqual(content.subarray(0, data.length));
    expect(data.length).toBe(context.bytes);
    expect(reader.bytesRead).toBe(context.bytes);
    if (state !== 'failed') expect(seen.progress).toBe(context.blocks);
    const active = ['transferring', 'drained', 'closing'].includes(state);
    expect(seen.progressDone).toBe(!active);
    // The source stays open exactly while the transfer is alive.
    expect(openFiles().includes(source)).toBe(active);
    if (state === 'failed') expect(log.ioFailure()?.message).toBe(context.reason);
  };

  const cleanup = async () => {
    held?.release();
    await reader.cancel();
  };
  return { observe, act, check, cleanup, actor: reader.actor };
}

// ------------------------------------------------------------------ the suites

const ACTORS = [
  { name: 'FileWriter (file upload)', events: fileWriterEvents, subject: async () => writerSubject(false) },
  { name: 'FileWriter (directory upload)', events: directoryWriterEvents, subject: async () => writerSubject(true) },
  { name: 'FileReader (download)', events: readerEvents, subject: readerSubject },
] as const;

const pathsByActor = ACTORS.map((actor) => ({ ...actor, paths: pathsFor(actor.events) }));

describe('fileTransfer machine: the paths', () => {
  for (const { name, events, paths } of pathsByActor) {
    it(`take every transition ${name} can make`, () => {
      expect(uncoveredTransitions(fileTransferMachine, events as never, paths, { label: eventLabel })).toEqual([]);
    });
  }

  it('leave out only what no actor can do', () => {
    // One event of each type, offered everywhere: which (state, type) does no actor's path take?
    const everyType: Event[] = [
      { type: 'block', bytes: 1 },
      { type: 'eof' },
      CLOSE,
      CLOSED,
      { type: 'unpack' },
      { type: 'unpacked' },
      UTIME,
      fail('x', 'x'),
      CANCEL,
      PURGE,
    ];
    const all = pathsByActor.flatMap(({ paths }) => paths);
    expect(uncoveredTransitions(fileTransferMachine, everyType, all)).toEqual([
      // A drained FileReader answers reads without I/O, and its close cannot fail: no actor fails there.
      'drained --fail-->',
    ]);
  });
});

for (const { name, paths, subject } of pathsByActor) {
  describe(`fileTransfer machine ≡ ${name}`, () => {
    for (const path of paths) {
      it(path.name, async () => {
        const s = await subject();
        expect(s.observe()).toBe('transferring');
        let state = 'transferring';
        for (const step of path.steps) {
          await s.act(step.event, state);
          state = step.expected;
          expect(await eventually(s.observe, step.expected)).toBe(step.expected);
          expect(s.actor.getSnapshot().value).toBe(step.expected);
          s.check(step.expected, step.snapshot.context as FileTransferContext);
        }
        await s.cleanup();
      });
    }
  });
}
