/**
 * A trial worker process on a farm worker, reached through the master's admin API: the WebSocket
 * `GET /api/workers/:name/trial-worker` (docs/master-service.md "Trial workers on the farm") carries
 * the process's fd 4 to us and our writes to its fd 3, so the manager speaks AMP to it exactly as
 * to a local child (see worker-host.ts).
 */
import { Duplex, PassThrough } from 'node:stream';
import { WebSocket, type RawData } from 'ws';
import { defaultLogger, type Logger } from '../logger.js';
import { FarmImportError, FarmWorkerError } from './errors.js';
import type { TrialWorkerSpec } from '../master/trial-worker-link.js';
import type { TrialWorkerHost, WorkerExit } from './worker-host.js';

/**
 * What to start on the farm worker, as the master's trial_worker command takes it; `workdir` is
 * relative to its admin builder directory (default `build`).
 */
export type FarmWorkerRequest = TrialWorkerSpec;

/** The part of AdminClient this needs. */
export interface TrialWorkerSocketSource {
  trialWorkerSocket(worker: string): { readonly url: string; readonly headers: Readonly<Record<string, string>> };
}

type ServerMessage =
  | { type: 'started'; pid: number; directory: string }
  | { type: 'stdout' | 'stderr'; text: string }
  | { type: 'exit'; rc: number | null; signal: string | null; failure?: string; importFailures?: { name: string; reason: string }[] };

export class FarmWorkerHost implements TrialWorkerHost {
  readonly spawned: Promise<void>;
  readonly exited: Promise<WorkerExit>;
  readonly amp: Duplex;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly where: string;
  /** The master's account of an abnormal end (naming the farm worker), once known. */
  failure: string | undefined;
  private remotePid: number | undefined;
  private remoteDirectory: string | undefined;
  private readonly ws: WebSocket;
  private readonly logger: Logger;
  private exit: WorkerExit | undefined;
  private killed = false;
  private resolveSpawned!: () => void;
  private rejectSpawned!: (error: Error) => void;
  private resolveExited!: (exit: WorkerExit) => void;

  constructor(
    source: TrialWorkerSocketSource,
    readonly worker: string,
    private readonly request: FarmWorkerRequest,
    options: { readonly logger?: Logger } = {},
  ) {
    this.where = `farm worker ${worker}`;
    this.logger = (options.logger ?? defaultLogger).child({ component: 'FarmWorkerHost', worker });
    this.spawned = new Promise((resolve, reject) => {
      this.resolveSpawned = resolve;
      this.rejectSpawned = reject;
    });
    // Whoever awaits `spawned` sees the rejection; an unobserved one must not be fatal.
    this.spawned.catch(() => undefined);
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    const { url, headers } = source.trialWorkerSocket(worker);
    this.ws = new WebSocket(url, { headers: { ...headers } });
    this.amp = this.createAmpPipe();
    this.ws.on('open', () => this.ws.send(JSON.stringify({ type: 'start', ...request })));
    this.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    this.ws.on('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (text: string) => (body += text));
      response.once('end', () => {
        const parsed = parseObject(body);
        const message = typeof parsed?.['message'] === 'string' ? parsed['message'] : `HTTP ${response.statusCode}`;
        const code = typeof parsed?.['code'] === 'string' ? parsed['code'] : `HTTP_${response.statusCode}`;
        this.fail(new FarmWorkerError(worker, `${this.where}: the master refused the trial worker: ${message}`, code));
        this.ws.terminate();
      });
    });
    this.ws.on('error', (error) => this.fail(new FarmWorkerError(worker, `${this.where}: cannot reach the master's admin API at ${url}: ${error.message}`, undefined, { cause: error })));
    this.ws.on('close', () => this.finish({ code: null, signal: this.killed ? 'SIGKILL' : null }));
  }

  get pid(): number | undefined {
    return this.remotePid;
  }

  /** The absolute directory on the farm worker once it started; the requested (relative) one before. */
  get startDirectory(): string {
    return this.remoteDirectory ?? this.request.directory;
  }

  /** Closes the socket: the master interrupts the command and the farm worker SIGKILLs the process group. */
  kill(): void {
    if (this.exit !== undefined) return;
    this.killed = true;
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else this.ws.close(1000, 'killed by the trial manager');
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (isBinary) {
      if (!this.amp.push(bytes)) this.ws.pause();
      return;
    }
    const message = parseObject(bytes.toString('utf8')) as ServerMessage | undefined;
    switch (message?.type) {
      case 'started':
        this.remotePid = message.pid;
        this.remoteDirectory = message.directory;
        this.resolveSpawned();
        break;
      case 'stdout':
        this.stdout.write(message.text);
        break;
      case 'stderr':
        this.stderr.write(message.text);
        break;
      case 'exit': {
        this.failure = message.failure;
        if (message.failure !== undefined) {
          const failures = message.importFailures ?? [];
          this.fail(failures.length > 0 ? new FarmImportError(this.worker, message.failure, failures) : new FarmWorkerError(this.worker, message.failure));
        }
        const signal = (message.signal ?? null) as NodeJS.Signals | null;
        this.finish({ code: signal === null ? message.rc : null, signal });
        break;
      }
      default:
        this.logger.warn({ message: bytes.toString('utf8').slice(0, 200) }, 'ignoring an unknown message from the master');
    }
  }

  /** `spawned` rejects (if it has not resolved); `exited` follows from the close. */
  private fail(error: FarmWorkerError): void {
    if (this.failure === undefined) this.failure = error.message;
    this.rejectSpawned(error);
  }

  private finish(exit: WorkerExit): void {
    if (this.exit !== undefined) return;
    this.exit = exit;
    this.rejectSpawned(new FarmWorkerError(this.worker, this.failure ?? `${this.where}: the trial worker socket closed before the process started`));
    this.amp.push(null);
    this.stdout.end();
    this.stderr.end();
    this.resolveExited(exit);
  }

  /** fd 4 to read, fd 3 to write: writes wait for the start, and `end()` sends `{type:'eof'}`. */
  private createAmpPipe(): Duplex {
    const ws = this.ws;
    // Bytes written before the process runs wait for it; once it cannot run they are dropped, as
    // a local child's EPIPE is: the exit is what the manager hears about.
    const whenRunning = (send: (sent: () => void) => void, callback: (error?: Error | null) => void) => {
      this.spawned.then(
        () => (ws.readyState === WebSocket.OPEN ? send(() => callback()) : callback()),
        () => callback(),
      );
    };
    return new Duplex({
      allowHalfOpen: true,
      read: () => {
        if (ws.isPaused) ws.resume();
      },
      writev: (chunks, callback) => {
        const bytes = Buffer.concat(chunks.map(({ chunk }) => chunk as Buffer));
        whenRunning((sent) => ws.send(bytes, { binary: true }, sent), callback);
      },
      final: (callback) => whenRunning((sent) => ws.send(JSON.stringify({ type: 'eof' }), sent), callback),
    });
  }
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
