/**
 * Raw TCP for bench/transfer: one child receives (into a file, or dropping the bytes), another
 * streams the source to it (transfer-raw.js). Both ends are children, so the bench process (the
 * master) carries none of their memory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { measured, type Measured } from './measure.js';
import { RAW_SCRIPT } from './environment.js';

type Line = Record<string, unknown>;

/** Spawns transfer-raw.js; gives its child and the JSON lines it prints, one at a time. */
function rawChild(args: readonly string[]): { child: ChildProcess; lines: AsyncIterableIterator<Line>; exited: Promise<number | null> } {
  if (!existsSync(RAW_SCRIPT)) throw new Error(`${RAW_SCRIPT} is missing: run "npm run build" first`);
  const child = spawn(process.execPath, [RAW_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-4000)));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const queue: Line[] = [];
  const waiting: Array<(line: IteratorResult<Line>) => void> = [];
  let buffer = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    buffer += text;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffer.slice(0, newline)) as Line;
      buffer = buffer.slice(newline + 1);
      const wake = waiting.shift();
      if (wake !== undefined) wake({ value: line, done: false });
      else queue.push(line);
    }
  });
  void exited.then((code) => {
    for (const wake of waiting.splice(0)) wake({ value: undefined, done: true });
    if (code !== 0) process.stderr.write(`[bench/transfer] transfer-raw ${args.join(' ')} exited ${code}: ${stderr}\n`);
  });
  const lines: AsyncIterableIterator<Line> = {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      const line = queue.shift();
      if (line !== undefined) return Promise.resolve({ value: line, done: false });
      if (child.exitCode !== null) return Promise.resolve({ value: undefined, done: true });
      return new Promise((wake) => waiting.push(wake));
    },
  };
  return { child, lines, exited };
}

async function nextLine(lines: AsyncIterableIterator<Line>, what: string): Promise<Line> {
  const { value, done } = await lines.next();
  if (done === true || value === undefined) throw new Error(`transfer-raw ended before ${what}`);
  return value;
}

/** A raw TCP run, with how far each end's RSS rose over it (plain Node sockets' own memory floor). */
export interface RawMeasured extends Measured {
  readonly senderRssGrowth: number;
  readonly receiverRssGrowth: number;
}

/** Moves `source` (`bytes` long) through a plain socket into `dest`, or drops it when `dest` is undefined. */
export async function rawTransfer(source: string, bytes: number, dest: string | undefined): Promise<RawMeasured> {
  const receiver = rawChild(dest === undefined ? ['receive'] : ['receive', dest]);
  try {
    const { port } = (await nextLine(receiver.lines, 'listening')) as { port: number };
    const sender = rawChild(['send', String(port), source]);
    const result = (await nextLine(receiver.lines, 'reporting')) as { bytes: number; seconds: number; cpu_seconds: number; rss_growth_bytes: number };
    const sent = (await nextLine(sender.lines, 'reporting')) as { cpu_seconds: number; rss_growth_bytes: number };
    if ((await sender.exited) !== 0 || (await receiver.exited) !== 0) throw new Error('transfer-raw failed');
    if (result.bytes !== bytes) throw new Error(`raw TCP moved ${result.bytes} of ${bytes} bytes`);
    return { ...measured(bytes, result.seconds, result.cpu_seconds + sent.cpu_seconds), senderRssGrowth: sent.rss_growth_bytes, receiverRssGrowth: result.rss_growth_bytes };
  } finally {
    if (receiver.child.exitCode === null) receiver.child.kill('SIGKILL');
    if (dest !== undefined) rmSync(dest, { force: true });
  }
}
