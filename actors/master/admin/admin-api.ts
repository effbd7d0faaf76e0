/**
 * The admin API's routes (JSON; every one needs the token, see access.ts):
 *
 * - `GET /api/workers`: the attached workers.
 * - `POST /api/exec` `{ command, workers? | all?, timeout? }`: runs a shell command on each; the
 *   answer is NDJSON, one line per output chunk or end (`run-on-workers.ts`), as it happens.
 * - `PUT /api/workers/:name/files?path=P` (body: the bytes): writes P on the worker; NDJSON
 *   progress lines, then the result.
 * - `GET /api/workers/:name/files?path=P`: P's bytes from the worker (with Content-Length), or a
 *   JSON error if the worker could not send it.
 */
import type { Readable } from 'node:stream';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { SUCCESS, RESULT_NAMES } from '../results.js';
import type { TransferResult } from '../transfers.js';
import { AdminBadRequestError, UnknownWorkerError } from './errors.js';
import type { FarmControl } from './farm-control.js';
import { runOnWorkers, type ExecRequest } from './run-on-workers.js';
import { fetchFromWorker, sendToWorker } from './worker-files.js';

interface ExecBody {
  readonly command?: unknown;
  readonly workers?: unknown;
  readonly all?: unknown;
  readonly timeout?: unknown;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/** Checks an exec request against the attached workers. */
export function parseExecRequest(body: ExecBody | undefined, attached: readonly string[]): ExecRequest {
  const command = body?.command;
  if (!(typeof command === 'string' && command !== '') && !(isStringArray(command) && command.length > 0)) {
    throw new AdminBadRequestError('"command" must be a non-empty string or array of strings');
  }
  let workers: readonly string[];
  if (body?.all === true) workers = attached;
  else if (isStringArray(body?.workers) && body.workers.length > 0) workers = body.workers;
  else throw new AdminBadRequestError('name the workers ("workers": [...]) or ask for "all": true');
  const missing = workers.filter((name) => !attached.includes(name));
  if (missing.length > 0) throw new UnknownWorkerError(`not attached: ${missing.join(', ')}`);
  if (workers.length === 0) throw new UnknownWorkerError('no worker is attached');
  const timeout = body?.timeout;
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout > 0)) throw new AdminBadRequestError('"timeout" must be a positive number of seconds');
  return { command, workers, ...(timeout !== undefined ? { timeout } : {}) };
}

function workerPath(query: unknown): string {
  const path = (query as { path?: unknown } | undefined)?.path;
  if (typeof path !== 'string' || path === '') throw new AdminBadRequestError('the "path" query parameter names the file on the worker');
  return path;
}

/** Starts an NDJSON answer on the raw response: fastify hands the socket over. */
function ndjson(reply: FastifyReply): (line: object) => void {
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  return (line) => reply.raw.write(`${JSON.stringify(line)}\n`);
}

function transferSummary(result: TransferResult): object {
  return {
    type: 'finished',
    bytes: result.bytes,
    rc: result.rc ?? null,
    results: result.results,
    result: RESULT_NAMES[result.results],
    ...(result.failure !== undefined ? { failure: result.failure.message } : {}),
  };
}

export async function registerAdminApi(app: FastifyInstance, farm: FarmControl): Promise<void> {
  // File bodies arrive as streams: never buffered, never limited by bodyLimit.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

  app.get('/api/workers', async () => ({ workers: farm.events.workers() }));

  app.post('/api/exec', async (request, reply) => {
    const exec = parseExecRequest(request.body as ExecBody | undefined, farm.attachedNames());
    const write = ndjson(reply);
    const subscription = runOnWorkers(farm, exec).subscribe({
      next: write,
      complete: () => reply.raw.end(),
    });
    reply.raw.on('close', () => subscription.unsubscribe());
  });

  app.put('/api/workers/:name/files', async (request, reply) => {
    const { name } = request.params as { name: string };
    const path = workerPath(request.query);
    if (farm.connection(name) === undefined) throw new UnknownWorkerError(`worker '${name}' is not attached`);
    if (request.headers['content-type'] !== 'application/octet-stream') throw new AdminBadRequestError('send the file as application/octet-stream');
    const write = ndjson(reply);
    try {
      const result = await sendToWorker(farm, name, path, request.body as Readable, (bytes) => write({ type: 'progress', bytes }));
      write(transferSummary(result));
    } catch (error) {
      write({ type: 'finished', bytes: 0, rc: null, results: 4, result: 'exception', failure: (error as Error).message });
    }
    reply.raw.end();
  });

  app.get('/api/workers/:name/files', async (request, reply) => {
    const { name } = request.params as { name: string };
    const path = workerPath(request.query);
    const { result, file } = await fetchFromWorker(farm, name, path);
    if (result.results !== SUCCESS) {
      await file.remove();
      return reply.status(502).send({ code: 'ADMIN_ERR_TRANSFER', message: result.failure?.message ?? `the worker could not send ${path} (rc ${result.rc})`, ...transferSummary(result) });
    }
    const size = (await stat(file.path)).size;
    const stream = createReadStream(file.path);
    stream.once('close', () => void file.remove());
    return reply.type('application/octet-stream').header('content-length', size).send(stream);
  });
}
