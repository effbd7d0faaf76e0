/**
 * The master's HTTP server on the `dashboard` endpoint: the admin API (JSON, under `/api/`),
 * `/metrics` for Prometheus, and whatever the dashboard plugs in through `registerDashboard`.
 * Access rules are in access.ts; the routes in admin-api.ts and metrics.ts (see
 * docs/master-service.md).
 *
 * The dashboard's contract: `registerDashboard(app, deps)` is called once, before the server
 * listens; it adds its routes (pages, an SSE feed of `deps.farm.events.events$`) to `app`. Its
 * routes get the access rule of every non-`/api/` path: open on loopback, token elsewhere.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../../logger.js';
import { parseServerEndpoint } from '../../endpoint.js';
import { bearerMatches, tokenRequired, type AccessPolicy } from './access.js';
import { registerAdminApi } from './admin-api.js';
import { AdminError, AdminServerError, AdminUnauthorizedError } from './errors.js';
import type { FarmControl } from './farm-control.js';
import type { FarmEvents } from './farm-events.js';
import { FarmMetrics } from './metrics.js';
import { registerTrialWorkerRoute } from './trial-worker-route.js';

/** What a dashboard gets to build its pages from. */
export interface DashboardDeps {
  /** The farm's events and current workers (read side). */
  readonly events: FarmEvents;
  /** Everything the admin API can do, for pages that act (run a command, move a file). */
  readonly farm: FarmControl;
  readonly logger: Logger;
  /** Whether a request for this path must carry the token (the server checks it already). */
  readonly tokenRequired: (path: string) => boolean;
}

export type RegisterDashboard = (app: FastifyInstance, deps: DashboardDeps) => Promise<void>;

export interface AdminServerOptions extends Omit<AccessPolicy, 'bindHost'> {
  readonly farm: FarmControl;
  /** The admin token: `Authorization: Bearer <token>`. */
  readonly token: string;
  /** A server endpoint: `tcp:8010` (loopback), `tcp:8010:interface=0.0.0.0`. */
  readonly endpoint: string;
  readonly logger: Logger;
  readonly registerDashboard?: RegisterDashboard;
}

export interface AdminServer {
  readonly app: FastifyInstance;
  readonly metrics: FarmMetrics;
  /** Listens; resolves with the base URL (`http://127.0.0.1:8010`). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export async function createAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const endpoint = parseServerEndpoint(options.endpoint);
  if (endpoint.kind !== 'tcp') throw new AdminServerError(`the dashboard endpoint must be tcp:PORT[:interface=HOST], not ${JSON.stringify(options.endpoint)}`);
  const logger = options.logger.child({ component: 'AdminServer' });
  const policy: AccessPolicy = { bindHost: endpoint.host, tokenOnLoopback: options.tokenOnLoopback };
  // pino's Logger is fastify's logger; only the generic parameters differ.
  // Per-request lines would drown the farm's own log; failures are logged by the error handler.
  const app: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  const metrics = new FarmMetrics(options.farm.events);

  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?', 1)[0] ?? '/';
    if (tokenRequired(path, policy) && !bearerMatches(request.headers.authorization, options.token)) {
      throw new AdminUnauthorizedError(`${request.method} ${path}: missing or wrong admin token`);
    }
  });
  app.setErrorHandler(async (error, request, reply) => {
    if (error instanceof AdminError) {
      // An expected refusal: one line, no stack.
      logger.warn({ code: error.code, method: request.method, url: request.url }, error.message);
      return reply.status(error.status).send({ code: error.code, message: error.message });
    }
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) logger.error({ err: error }, 'admin request failed');
    return reply.status(status).send({ code: (error as { code?: string }).code ?? 'ADMIN_ERR_INTERNAL', message: (error as Error).message });
  });

  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));
  await registerAdminApi(app, options.farm);
  // A WebSocket: it checks the token itself, before upgrading (upgrades bypass the onRequest hook).
  registerTrialWorkerRoute(app, { farm: options.farm, token: options.token, logger });
  await options.registerDashboard?.(app, {
    events: options.farm.events,
    farm: options.farm,
    logger,
    tokenRequired: (path) => tokenRequired(path, policy),
  });

  return {
    app,
    metrics,
    async listen() {
      await app.listen({ host: endpoint.host, port: endpoint.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : endpoint.port;
      const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
      return `http://${host}:${port}`;
    },
    async close() {
      metrics.close();
      await app.close();
    },
  };
}
