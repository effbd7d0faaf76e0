/**
 * The dashboard's routes without a browser: the page, the graphs, the front-end modules (and
 * nothing else from their directory), and where the built package finds its front end.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FarmControl } from '../../actors/master/admin/farm-control.js';
import { FarmEventBus } from '../../actors/master/admin/farm-events.js';
import { dashboard } from '../../actors/master/dashboard/register-dashboard.js';
import { AdminError } from '../../actors/master/admin/errors.js';
import { temporaryDirectory } from '../support/temp-directory.js';

const assets = temporaryDirectory('ampstate-dashboard-assets-');
let app: FastifyInstance;

beforeAll(async () => {
  writeFileSync(join(assets, 'main.js'), 'export {};\n');
  writeFileSync(join(assets, 'secret.txt'), 'not a module\n');
  const events = new FarmEventBus();
  const logger = pino({ level: 'silent' });
  app = Fastify();
  // The admin server's handler, reduced: refusals answer with their status and code.
  app.setErrorHandler(async (error, _request, reply) =>
    error instanceof AdminError ? reply.status(error.status).send({ code: error.code }) : reply.status(500).send({ code: 'internal' }),
  );
  const farm = { events, logger, stagingDirectory: assets, connection: () => undefined, attachedNames: () => [] } satisfies FarmControl;
  await dashboard({ assetsDirectory: assets })(app, { events, farm, logger, tokenRequired: () => false });
});

afterAll(async () => {
  await app.close();
});

describe('dashboard routes', () => {
  it('serves the page, which loads its entry module from the dashboard path', async () => {
    const page = await app.inject({ url: '/dashboard/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<script type="module" src="/dashboard/ui/main.js">');
    expect((await app.inject({ url: '/' })).headers.location).toBe('/dashboard/');
  });

  it('serves every protocol machine\'s graph by machine id', async () => {
    const graphs = (await app.inject({ url: '/dashboard/machines.json' })).json() as Record<string, { states: { id: string }[] }>;
    expect(Object.keys(graphs)).toContain('masterConnection');
    expect(graphs['masterConnection']?.states.map((state) => state.id)).toContain('masterConnection.attached');
  });

  it('serves the front end\'s modules and nothing else', async () => {
    const module = await app.inject({ url: '/dashboard/ui/main.js' });
    expect(module.statusCode).toBe(200);
    expect(module.headers['content-type']).toMatch(/^text\/javascript/);
    for (const url of ['/dashboard/ui/secret.txt', '/dashboard/ui/..%2Fmain.js', '/dashboard/ui/absent.js']) {
      const refused = await app.inject({ url });
      expect([refused.statusCode, refused.json()], url).toEqual([404, { code: 'DASHBOARD_ERR_NOT_FOUND' }]);
    }
  });

  it('finds the built front end from the built package', async () => {
    const built = new URL('../../dist/actors/master/dashboard/register-dashboard.js', import.meta.url);
    if (!existsSync(built)) throw new Error('dist/ is not built: run npm run build first');
    const { defaultAssetsDirectory } = (await import(built.href)) as { defaultAssetsDirectory(): string };
    expect(existsSync(join(defaultAssetsDirectory(), 'main.js'))).toBe(true);
    expect(defaultAssetsDirectory()).toBe(new URL('../../dist/dashboard/', import.meta.url).pathname);
  });
});
