/**
 * Line splitting plus batching of a command's updates (docs/master-worker-protocol.md §2.1), between the command and its
 * channel. One instance per running command.
 *
 * Batching trades latency for fewer round trips: a chatty build can print thousands of lines a
 * second, and each `update` is acknowledged by the master.
 */
import type { UpdateEntry } from './command.js';
import { DEFAULT_MAX_LINE_LENGTH, DEFAULT_NEWLINE_PATTERN, LineSplitter } from './line-splitter.js';

export interface OutputBufferOptions {
  /**
   * Send once this much is buffered. Counted like Buildbot (text plus 16 per line, 20 per
   * non-text entry) but in UTF-8 bytes rather than characters, because AMP limits values in bytes.
   * Default 64 KiB; use about 48 KiB over AMP.
   */
  bufferSize?: number;
  /** Send whatever is buffered this long after the first entry was buffered. Default 5 s. */
  bufferTimeoutSeconds?: number;
  maxLineLength?: number;
  /** Python `re` syntax (as `set_worker_settings` carries it) or a RegExp. */
  newlinePattern?: RegExp | string;
}

export const DEFAULT_BUFFER_SIZE = 64 * 1024;
export const DEFAULT_BUFFER_TIMEOUT_SECONDS = 5;

const TEXT_STREAMS = new Set(['stdout', 'stderr', 'header']);
const BYTES_PER_LINE = 16;
const BYTES_PER_OTHER_ENTRY = 20;

interface BufferedText {
  readonly kind: 'text';
  readonly key: string;
  /** Set for `log` entries; only entries of the same log merge. */
  readonly logName: string | undefined;
  text: string;
}

interface BufferedValue {
  readonly kind: 'value';
  readonly key: string;
  readonly value: unknown;
}

type BufferedEntry = BufferedText | BufferedValue;

/** Converts a `set_worker_settings` argument dict into options (the field names differ). */
export function outputOptionsFromWorkerSettings(settings: {
  buffer_size: number;
  buffer_timeout: number;
  newline_re: string;
  max_line_length: number;
}): OutputBufferOptions {
  return {
    bufferSize: settings.buffer_size,
    bufferTimeoutSeconds: settings.buffer_timeout,
    newlinePattern: settings.newline_re,
    maxLineLength: settings.max_line_length,
  };
}

export class OutputBuffer {
  private readonly bufferSize: number;
  private readonly bufferTimeoutMs: number;
  private readonly maxLineLength: number;
  private readonly newlinePattern: RegExp | string;
  private readonly splitters = new Map<string, LineSplitter>();
  private buffered: BufferedEntry[] = [];
  private bufferedSize = 0;
  private timer: NodeJS.Timeout | undefined;
  private discarded = false;

  constructor(
    private readonly send: (entries: UpdateEntry[]) => void,
    options: OutputBufferOptions = {},
  ) {
    this.bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
    this.bufferTimeoutMs = (options.bufferTimeoutSeconds ?? DEFAULT_BUFFER_TIMEOUT_SECONDS) * 1000;
    this.maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
    this.newlinePattern = options.newlinePattern ?? DEFAULT_NEWLINE_PATTERN;
    if (!(this.bufferSize > 0)) throw new RangeError(`bufferSize must be positive, got ${this.bufferSize}`);
    // Fail on a bad pattern now rather than on the first output.
    new LineSplitter(this.maxLineLength, this.newlinePattern);
  }

  append(entries: readonly UpdateEntry[]): void {
    if (this.discarded) return;
    for (const [key, value] of entries) {
      if (TEXT_STREAMS.has(key) && typeof value === 'string') {
        this.appendText(key, undefined, this.splitterFor(key).push(value));
      } else if (key === 'log' && isLogValue(value)) {
        const [logName, text] = value;
        this.appendText('log', logName, this.splitterFor(`log:${logName}`).push(text));
      } else {
        this.appendValue(key, value);
      }
    }
  }

  /** Completes every held partial line (appending `\n`) and sends everything buffered. */
  flush(): void {
    if (this.discarded) return;
    // Sorted so that the order of the completed partial lines does not depend on arrival order.
    for (const streamKey of [...this.splitters.keys()].sort()) {
      const text = (this.splitters.get(streamKey) as LineSplitter).flush();
      if (streamKey.startsWith('log:')) this.appendText('log', streamKey.slice(4), text);
      else this.appendText(streamKey, undefined, text);
    }
    this.sendBuffered();
  }

  /** Drops everything held and ignores later appends (the connection is gone). */
  discard(): void {
    this.discarded = true;
    this.buffered = [];
    this.bufferedSize = 0;
    this.splitters.clear();
    this.cancelTimer();
  }

  private splitterFor(streamKey: string): LineSplitter {
    let splitter = this.splitters.get(streamKey);
    if (!splitter) {
      splitter = new LineSplitter(this.maxLineLength, this.newlinePattern);
      this.splitters.set(streamKey, splitter);
    }
    return splitter;
  }

  private appendText(key: string, logName: string | undefined, text: string): void {
    if (text === '') return;
    const size = textSize(text);
    if (size <= this.bufferSize - this.bufferedSize) {
      const last = this.buffered.at(-1);
      if (last?.kind === 'text' && last.key === key && last.logName === logName) last.text += text;
      else this.buffered.push({ kind: 'text', key, logName, text });
      this.bufferedSize += size;
      this.startTimer();
      return;
    }
    this.sendBuffered();
    if (size <= this.bufferSize) {
      this.buffered.push({ kind: 'text', key, logName, text });
      this.bufferedSize = size;
      this.startTimer();
      return;
    }
    for (const piece of splitIntoPieces(text, this.bufferSize)) {
      this.send([toUpdate({ kind: 'text', key, logName, text: piece })]);
    }
  }

  private appendValue(key: string, value: unknown): void {
    if (BYTES_PER_OTHER_ENTRY > this.bufferSize - this.bufferedSize) this.sendBuffered();
    if (BYTES_PER_OTHER_ENTRY > this.bufferSize) {
      this.send([[key, value]]);
      return;
    }
    this.buffered.push({ kind: 'value', key, value });
    this.bufferedSize += BYTES_PER_OTHER_ENTRY;
    this.startTimer();
  }

  private sendBuffered(): void {
    this.cancelTimer();
    if (this.buffered.length === 0) return;
    const entries = this.buffered.map(toUpdate);
    this.buffered = [];
    this.bufferedSize = 0;
    this.send(entries);
  }

  private startTimer(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sendBuffered();
    }, this.bufferTimeoutMs);
  }

  private cancelTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function isLogValue(value: unknown): value is readonly [string, string] {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string';
}

function textSize(text: string): number {
  let lines = 0;
  for (let index = text.indexOf('\n'); index >= 0; index = text.indexOf('\n', index + 1)) lines += 1;
  return Buffer.byteLength(text, 'utf8') + BYTES_PER_LINE * lines;
}

/** Groups whole lines into pieces of at most `limit`; a single line over the limit goes alone. */
function splitIntoPieces(text: string, limit: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  let pieceSize = 0;
  for (const line of text.split(/(?<=\n)/)) {
    const lineSize = textSize(line);
    if (piece !== '' && pieceSize + lineSize > limit) {
      pieces.push(piece);
      piece = '';
      pieceSize = 0;
    }
    piece += line;
    pieceSize += lineSize;
  }
  if (piece !== '') pieces.push(piece);
  return pieces;
}

function toUpdate(entry: BufferedEntry): UpdateEntry {
  if (entry.kind === 'value') return [entry.key, entry.value];
  if (entry.logName !== undefined) return ['log', [entry.logName, entry.text]];
  return [entry.key, entry.text];
}
