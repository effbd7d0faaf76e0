/**
 * The live dashboard as a plug-in of the admin server (see docs/master-service.md, "Dashboard"):
 * `/dashboard/` is the page, `/dashboard/ui/*.js` its compiled front-end modules,
 * `/dashboard/machines.json` every protocol machine's graph and `/dashboard/events` the farm's
 * events as server-sent events. Access is the admin server's rule for non-API paths.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RegisterDashboard } from '../admin/http-server.js';
import { DashboardAssetMissingError, DashboardNotFoundError } from './errors.js';
import { streamFarmEvents } from './event-stream.js';
import { machineGraphsById } from './machine-graphs.js';
import { dashboardPage } from './page.js';

export const DASHBOARD_PATH = '/dashboard';

export interface DashboardOptions {
  /** Where the compiled front end (main.js …) is; found next to this module's build by default. */
  readonly assetsDirectory?: string;
}

/** Only the compiler's flat output is served: no paths, nothing but modules. */
const ASSET_NAME = /^[a-z][a-z0-9-]*\.js$/;

/**
 * The build puts the front end in dist/dashboard/; from dist/actors/master/dashboard/ that is
 * three levels up, and from the sources (tests run them) it is dist/dashboard/ of the checkout.
 */
export function defaultAssetsDirectory(): string {
  const built = fileURLToPath(new URL('../../../dashboard/', import.meta.url));
  if (existsSync(join(built, 'main.js'))) return built;
  return fileURLToPath(new URL('../../../dist/dashboard/', import.meta.url));
}

export function dashboard(options: DashboardOptions = {}): RegisterDashboard {
  const assets = options.assetsDirectory ?? defaultAssetsDirectory();
  return async (app, deps) => {
    const page = dashboardPage(DASHBOARD_PATH);
    app.get('/', async (_request, reply) => reply.redirect(`${DASHBOARD_PATH}/`));
    app.get(DASHBOARD_PATH, async (_request, reply) => reply.redirect(`${DASHBOARD_PATH}/`));
    app.get(`${DASHBOARD_PATH}/`, async (_request, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page));
    app.get(`${DASHBOARD_PATH}/machines.json`, async () => machineGraphsById());
    app.get(`${DASHBOARD_PATH}/events`, async (request, reply) => streamFarmEvents(deps.events, request, reply, deps.logger));
    app.get<{ Params: { file: string } }>(`${DASHBOARD_PATH}/ui/:file`, async (request, reply) => {
      const file = request.params.file;
      if (!ASSET_NAME.test(file)) throw new DashboardNotFoundError(`no dashboard asset ${file}`);
      let source: Buffer;
      try {
        source = await readFile(join(assets, file));
      } catch {
        if (file === 'main.js') throw new DashboardAssetMissingError(assets);
        throw new DashboardNotFoundError(`no dashboard asset ${file}`);
      }
      return reply.type('text/javascript; charset=utf-8').send(source);
    });
  };
}
