/**
 * The admin API seen from a terminal: what `ampstate exec`, `upload` and `download` use. It finds
 * the server from a master directory (the config's dashboard endpoint and the admin token file)
 * or from an endpoint and a token, and speaks the routes of admin-api.ts.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AmpStateError } from '../../../codec/errors.js';
import { parseClientEndpoint } from '../../endpoint.js';
import { MASTER_ADDRESSES_FILE, MASTER_CONFIG_FILE, readAdminToken, readMasterConfig, type MasterAddressesFile } from '../service/config.js';
import { processExists } from '../service/pidfile.js';
import type { WorkerSummary } from './farm-events.js';
import type { ExecEvent } from './run-on-workers.js';

export class AdminClientError extends AmpStateError {
  override readonly code: string = 'ADMIN_ERR_CLIENT';
}

/** The server refused or failed the request; `status` and the server's `code` say how. */
export class AdminRequestError extends AdminClientError {
  constructor(
    readonly status: number,
    readonly serverCode: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TransferOutcome {
  readonly type: 'finished';
  readonly bytes: number;
  readonly rc: number | null;
  readonly results: number;
  readonly result: string;
  readonly failure?: string;
}

/** `http://HOST:PORT` for a `tcp:` endpoint; a bind-all address is reached through loopback. */
export function baseUrlOf(endpoint: string): string {
  if (/^https?:\/\//.test(endpoint)) return endpoint.replace(/\/+$/, '');
  const match = /^tcp:(\d+)(?::interface=(.+))?$/.exec(endpoint);
  if (match !== null) {
    const host = match[2] === undefined || match[2] === '0.0.0.0' || match[2] === '::' ? '127.0.0.1' : match[2];
    return `http://${host.includes(':') ? `[${host}]` : host}:${match[1]}`;
  }
  const parsed = parseClientEndpoint(endpoint);
  if (parsed.kind !== 'tcp') throw new AdminClientError(`the admin server is reached over tcp, not ${JSON.stringify(endpoint)}`);
  return `http://${parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host}:${parsed.port}`;
}

export class AdminClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  /** `master` is a master directory, or an endpoint (`tcp:HOST:PORT`, a URL) with `tokenFile`. */
  static async connect(master: string, tokenFile?: string): Promise<AdminClient> {
    if (existsSync(join(master, MASTER_CONFIG_FILE))) {
      const config = await readMasterConfig(master);
      const running = await runningDashboardUrl(master);
      if (running !== undefined) return new AdminClient(running, tokenFile !== undefined ? (await readFile(tokenFile, 'utf8')).trim() : await readAdminToken(master));
      if (/^tcp:0(:|$)/.test(config.dashboard ?? '')) throw new AdminClientError(`the master of ${master} is not running (its dashboard port is chosen when it starts)`);
      if (config.dashboard === undefined) throw new AdminClientError(`${join(master, MASTER_CONFIG_FILE)} has no "dashboard" endpoint: the master serves no admin API`);
      const token = tokenFile !== undefined ? (await readFile(tokenFile, 'utf8')).trim() : await readAdminToken(master);
      return new AdminClient(baseUrlOf(config.dashboard), token);
    }
    if (tokenFile === undefined) throw new AdminClientError(`${master} is not a master directory; with an endpoint, give --token-file`);
    return new AdminClient(baseUrlOf(master), (await readFile(tokenFile, 'utf8')).trim());
  }

  async workers(): Promise<readonly WorkerSummary[]> {
    const response = await this.request('GET', '/api/workers');
    return ((await response.json()) as { workers: WorkerSummary[] }).workers;
  }

  /** The run's events as they come. */
  async *exec(request: { command: string | readonly string[]; workers?: readonly string[]; all?: boolean; timeout?: number }): AsyncGenerator<ExecEvent> {
    const response = await this.request('POST', '/api/exec', { body: JSON.stringify(request), contentType: 'application/json' });
    yield* lines<ExecEvent>(response);
  }

  /** Writes `body` to `path` on the worker; `onProgress` sees the bytes the worker has written. */
  async upload(worker: string, path: string, body: Readable, onProgress: (bytes: number) => void = () => undefined): Promise<TransferOutcome> {
    const response = await this.request('PUT', filesRoute(worker, path), { body, contentType: 'application/octet-stream' });
    let outcome: TransferOutcome | undefined;
    for await (const line of lines<{ type: 'progress'; bytes: number } | TransferOutcome>(response)) {
      if (line.type === 'progress') onProgress(line.bytes);
      else outcome = line;
    }
    if (outcome === undefined) throw new AdminClientError('the master ended the upload without a result');
    return outcome;
  }

  /** `path` from the worker: its size and its bytes as a stream. */
  async download(worker: string, path: string): Promise<{ readonly size: number | undefined; readonly body: Readable }> {
    const response = await this.request('GET', filesRoute(worker, path));
    const length = response.headers.get('content-length');
    if (response.body === null) throw new AdminClientError('the master sent no body');
    return { size: length === null ? undefined : Number(length), body: Readable.fromWeb(response.body as import('node:stream/web').ReadableStream) };
  }

  /**
   * Where to open the WebSocket of a trial worker on `worker` (docs/master-service.md "Trial
   * workers on the farm"), with the header that carries the token.
   */
  trialWorkerSocket(worker: string): { readonly url: string; readonly headers: Readonly<Record<string, string>> } {
    const url = `${this.baseUrl.replace(/^http/, 'ws')}/api/workers/${encodeURIComponent(worker)}/trial-worker`;
    return { url, headers: { authorization: `Bearer ${this.token}` } };
  }

  private async request(method: string, route: string, options: { body?: string | Readable; contentType?: string } = {}): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (options.contentType !== undefined) headers['content-type'] = options.contentType;
    const body = options.body instanceof Readable ? (Readable.toWeb(options.body) as ReadableStream) : options.body;
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${route}`, { method, headers, body, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit);
    } catch (error) {
      throw new AdminClientError(`cannot reach the master's admin API at ${this.baseUrl}: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}`, { cause: error });
    }
    if (!response.ok) {
      const text = await response.text();
      let parsed: { code?: string; message?: string } = {};
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        parsed = { message: text };
      }
      throw new AdminRequestError(response.status, parsed.code ?? `HTTP_${response.status}`, parsed.message ?? `HTTP ${response.status}`);
    }
    return response;
  }
}

/** The URL a running master of `dir` published (it may have bound port 0). */
async function runningDashboardUrl(dir: string): Promise<string | undefined> {
  try {
    const published = JSON.parse(await readFile(join(dir, MASTER_ADDRESSES_FILE), 'utf8')) as MasterAddressesFile;
    return processExists(published.pid) ? published.dashboardUrl : undefined;
  } catch {
    return undefined;
  }
}

function filesRoute(worker: string, path: string): string {
  return `/api/workers/${encodeURIComponent(worker)}/files?path=${encodeURIComponent(path)}`;
}

/** An NDJSON body, one parsed value per line. */
async function* lines<T>(response: Response): AsyncGenerator<T> {
  if (response.body === null) return;
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    pending += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.trim() !== '') yield JSON.parse(line) as T;
    }
  }
  if (pending.trim() !== '') yield JSON.parse(pending) as T;
}
