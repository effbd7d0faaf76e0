/**
 * `GET /api/workers/:name/trial-worker` as a WebSocket (docs/master-service.md "Trial workers on
 * the farm"): one trial worker process on a farm worker, its fds 3 and 4 carried as binary frames.
 *
 * The client's first message is the JSON `{type:'start', kind, directory, …}`; the server answers
 * `{type:'started', pid, directory}`, then sends fd 4's bytes as binary frames and
 * `{type:'stdout'|'stderr', text}`, and finally `{type:'exit', rc, signal, failure?}` before it
 * closes. The client's binary frames go to fd 3 and `{type:'eof'}` closes it. A client that closes
 * the socket kills the process. The token, the worker and its support are checked before upgrading,
 * so a refusal is an ordinary HTTP answer with the admin API's `{code, message}`.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../../logger.js';
import { requireTrialSupport, TrialWorkerLink, type TrialWorkerSpec } from '../trial-worker-link.js';
import { bearerMatches } from './access.js';
import { AdminBadRequestError, AdminError, AdminUnauthorizedError, UnknownWorkerError } from './errors.js';
import type { FarmControl } from './farm-control.js';

const ROUTE = /^\/api\/workers\/([^/]+)\/trial-worker$/;
/** fd 3 bytes waiting for the farm worker beyond which the client's socket is paused. */
const INPUT_HIGH_WATER_BYTES = 256 * 1024;

export interface TrialWorkerRouteOptions {
  readonly farm: FarmControl;
  readonly token: string;
  readonly logger: Logger;
}

export function registerTrialWorkerRoute(app: FastifyInstance, options: TrialWorkerRouteOptions): void {
  const logger = options.logger.child({ component: 'TrialWorkerRoute' });
  const sockets = new WebSocketServer({ noServer: true });
  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
    const match = ROUTE.exec(path);
    if (match === null) {
      // Nobody else takes upgrades: answer rather than leave the socket hanging.
      if (app.server.listenerCount('upgrade') === 1) refuse(socket, 404, { code: 'ADMIN_ERR_NOT_FOUND', message: `no WebSocket at ${path}` });
      return;
    }
    let name: string;
    try {
      if (!bearerMatches(request.headers.authorization, options.token)) throw new AdminUnauthorizedError(`GET ${path}: missing or wrong admin token`);
      name = decodeURIComponent(match[1]!);
      const connection = options.farm.connection(name);
      if (connection === undefined) throw new UnknownWorkerError(`worker '${name}' is not attached`);
      requireTrialSupport(connection);
    } catch (error) {
      const refusal = error instanceof AdminError ? error : new AdminBadRequestError((error as Error).message);
      logger.warn({ code: refusal.code, url: path }, refusal.message);
      refuse(socket, refusal.status, { code: refusal.code, message: refusal.message });
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => serveTrialWorker(ws, name, options.farm, logger));
  });
  // Without the upgrade header this is a mistake worth a clear answer (the token was checked already).
  app.get('/api/workers/:name/trial-worker', async () => {
    throw new AdminBadRequestError('open /api/workers/:name/trial-worker as a WebSocket');
  });
  // Before the server closes: it would wait for these upgraded sockets forever.
  app.addHook('preClose', async () => {
    for (const client of sockets.clients) client.terminate();
    sockets.close();
  });
}

/** One socket, one trial worker: the start message, then the two pipes. */
function serveTrialWorker(ws: WebSocket, name: string, farm: FarmControl, logger: Logger): void {
  let link: TrialWorkerLink | undefined;
  let ended = false;
  let pendingInputBytes = 0;
  const sendJson = (message: object) => ws.send(JSON.stringify(message));
  const finish = (message: object) => {
    ended = true;
    sendJson({ type: 'exit', ...message });
    ws.close(1000);
  };

  ws.on('message', (data: RawData, isBinary: boolean) => {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (link === undefined) {
      if (ended) return;
      try {
        link = startLink(bytes, isBinary);
      } catch (error) {
        finish({ rc: null, signal: null, failure: (error as Error).message });
      }
      return;
    }
    if (isBinary) {
      pendingInputBytes += bytes.length;
      if (pendingInputBytes > INPUT_HIGH_WATER_BYTES) ws.pause();
      link.write(bytes).then(
        () => {
          pendingInputBytes -= bytes.length;
          if (pendingInputBytes <= INPUT_HIGH_WATER_BYTES) ws.resume();
        },
        () => (pendingInputBytes -= bytes.length),
      );
      return;
    }
    const message = parseJson(bytes);
    if (message?.type === 'eof') void link.end().catch(() => undefined);
  });
  ws.on('close', () => {
    if (link !== undefined && !ended) link.interrupt('the admin client closed the trial worker socket');
    ended = true;
  });
  ws.on('error', (error) => logger.info({ err: error, worker: name }, 'trial worker socket failed'));

  function startLink(bytes: Buffer, isBinary: boolean): TrialWorkerLink {
    const spec = parseStart(isBinary ? undefined : parseJson(bytes));
    const connection = farm.connection(name);
    if (connection === undefined) throw new UnknownWorkerError(`worker '${name}' is not attached`);
    const started = new TrialWorkerLink(connection, spec, { logger });
    started.output$.subscribe((output) => {
      if (ws.readyState !== ws.OPEN) return;
      if (output.type === 'amp') ws.send(output.data, { binary: true });
      else sendJson(output);
    });
    void started.ended.then((end) => {
      if (ws.readyState === ws.OPEN) finish(end);
      ended = true;
    });
    return started;
  }
}

function parseJson(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Checks the client's first message; throws AdminBadRequestError naming what is wrong. */
export function parseStart(message: Record<string, unknown> | undefined): TrialWorkerSpec {
  if (message?.type !== 'start') throw new AdminBadRequestError('the first message must be the JSON {"type":"start", …}');
  const { kind, python, workdir, directory, env, workerArguments, importCheck, dialect } = message;
  if (kind !== 'python' && kind !== 'node') throw new AdminBadRequestError('"kind" must be "python" or "node"');
  if (typeof directory !== 'string' || directory === '') throw new AdminBadRequestError('"directory" must name the trial temp directory');
  const optionalString = (value: unknown, field: string) => {
    if (value !== undefined && typeof value !== 'string') throw new AdminBadRequestError(`"${field}" must be a string`);
    return value;
  };
  const optionalList = (value: unknown, field: string) => {
    if (value !== undefined && !(Array.isArray(value) && value.every((item) => typeof item === 'string'))) throw new AdminBadRequestError(`"${field}" must be an array of strings`);
    return value as string[] | undefined;
  };
  if (env !== undefined && (typeof env !== 'object' || env === null || Array.isArray(env) || !Object.values(env).every((value) => typeof value === 'string'))) {
    throw new AdminBadRequestError('"env" must map names to strings');
  }
  const fields = {
    kind,
    directory,
    python: optionalString(python, 'python'),
    workdir: optionalString(workdir, 'workdir'),
    dialect: optionalString(dialect, 'dialect'),
    env: env as Record<string, string> | undefined,
    workerArguments: optionalList(workerArguments, 'workerArguments'),
    importCheck: optionalList(importCheck, 'importCheck'),
  };
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as unknown as TrialWorkerSpec;
}

/** An HTTP answer on a socket that was never upgraded. */
function refuse(socket: Duplex, status: number, body: object): void {
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}
