/**
 * Follows one of a shell command's `logfiles` and reports new text (docs/master-worker-protocol.md §3.3 `logfiles`).
 *
 * A file that already exists when the command starts is probably left over from an earlier
 * build, so it is only read once its size or times change; `follow` then skips what was already
 * there.
 */
import { statSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from 'pino';

export const LOGFILE_POLL_INTERVAL_MS = 2000;
const READ_CHUNK_SIZE = 10_000;

interface FileStamp {
  readonly ctimeMs: number;
  readonly mtimeMs: number;
  readonly size: number;
}

function sameStamp(a: FileStamp | null, b: FileStamp | null): boolean {
  if (a === null || b === null) return a === b;
  return a.ctimeMs === b.ctimeMs && a.mtimeMs === b.mtimeMs && a.size === b.size;
}

function stampSync(path: string): FileStamp | null {
  try {
    const stats = statSync(path);
    return { ctimeMs: stats.ctimeMs, mtimeMs: stats.mtimeMs, size: stats.size };
  } catch {
    return null;
  }
}

async function stampOf(path: string): Promise<FileStamp | null> {
  try {
    const stats = await stat(path);
    return { ctimeMs: stats.ctimeMs, mtimeMs: stats.mtimeMs, size: stats.size };
  } catch {
    return null;
  }
}

export class LogFileWatcher {
  private stampBeforeStart: FileStamp | null;
  private handle: FileHandle | null = null;
  private position = 0;
  private readonly decoder = new StringDecoder('utf8');
  private timer: NodeJS.Timeout | undefined;
  private pollInFlight: Promise<void> | null = null;
  private failed = false;

  constructor(
    readonly name: string,
    readonly path: string,
    private readonly follow: boolean,
    private readonly onText: (text: string) => void,
    private readonly logger?: Logger,
  ) {
    // Synchronous on purpose: the stamp must be taken before the process can touch the file.
    this.stampBeforeStart = stampSync(path);
  }

  start(): void {
    void this.pollOnce();
    this.timer = setInterval(() => {
      if (this.pollInFlight === null) void this.pollOnce();
    }, LOGFILE_POLL_INTERVAL_MS);
  }

  /** Reads whatever the process wrote last, then releases the file. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.pollInFlight) await this.pollInFlight;
    await this.pollOnce();
    const handle = this.handle;
    this.handle = null;
    await handle?.close().catch(() => undefined);
  }

  /** Stops polling without a final read (the command is being abandoned). */
  abandon(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.failed = true;
    void this.handle?.close().catch(() => undefined);
    this.handle = null;
  }

  /**
   * With `follow`, only text added after the command started is sent. Buildbot skips to the size
   * seen at its first *detecting* poll, which drops whatever was written in between (up to 2 s of
   * output); we skip to the size at start. A file that shrank or was recreated is read whole.
   */
  private followStartPosition(current: FileStamp): number {
    if (!this.follow || this.stampBeforeStart === null) return 0;
    return current.size >= this.stampBeforeStart.size ? this.stampBeforeStart.size : 0;
  }

  private pollOnce(): Promise<void> {
    const poll = this.poll().finally(() => {
      if (this.pollInFlight === poll) this.pollInFlight = null;
    });
    this.pollInFlight = poll;
    return poll;
  }

  private async poll(): Promise<void> {
    if (this.failed) return;
    try {
      if (this.handle === null) {
        const stamp = await stampOf(this.path);
        if (sameStamp(stamp, this.stampBeforeStart)) return;
        if (stamp === null) {
          // The process deleted the old file, presumably to write a new one; any new file counts.
          this.stampBeforeStart = null;
          return;
        }
        this.handle = await open(this.path, 'r');
        this.position = this.followStartPosition(stamp);
      }
      const chunk = Buffer.allocUnsafe(READ_CHUNK_SIZE);
      for (;;) {
        const { bytesRead } = await this.handle.read(chunk, 0, READ_CHUNK_SIZE, this.position);
        if (bytesRead === 0) return;
        this.position += bytesRead;
        const text = this.decoder.write(chunk.subarray(0, bytesRead));
        if (text !== '') this.onText(text);
      }
    } catch (error) {
      // Like Buildbot, a watcher that fails once stops polling; the command itself goes on.
      this.failed = true;
      this.logger?.warn({ err: error, logfile: this.path }, 'logfile polling failed');
    }
  }
}
