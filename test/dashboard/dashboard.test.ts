/**
 * The live dashboard in a real headless chromium against a real master and worker: the page sees
 * the worker attach, a command's output stream in (stdout and stderr told apart), a transfer's
 * bar move, and an actor's machine drawn with its current state changing. Screenshots are kept in
 * test-artifacts/dashboard/ (git-ignored).
 */
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPeer } from '../support/describe-with-peer.js';
import { chromiumPeer, launchChromium } from './chromium.js';
import { buildFrontEnd, DashboardFarm, WORKER_NAME } from './farm-harness.js';

const ARTIFACTS = new URL('../../test-artifacts/dashboard/', import.meta.url).pathname;
const WAIT_MS = 20_000;

describeWithPeer('dashboard in headless chromium', chromiumPeer(), () => {
  const farm = new DashboardFarm();
  let browser: Browser | undefined;
  let page: Page;

  async function screenshot(name: string): Promise<void> {
    await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const [assets, launched] = await Promise.all([buildFrontEnd(), launchChromium()]);
    browser = launched;
    await farm.start(assets);
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.setDefaultTimeout(WAIT_MS);
    await page.goto(`${farm.dashboardUrl}/dashboard/`);
    await page.locator('#status', { hasText: 'live' }).waitFor();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await farm.stop();
  });

  it('shows the worker attach', async () => {
    farm.startWorker();
    const row = page.locator(`#workers tr[data-worker="${WORKER_NAME}"]`);
    await row.locator('.state', { hasText: 'attached' }).waitFor();
    await expect(row.locator('td').nth(1).textContent()).resolves.toBe('amp');
    await expect(row.locator('.info').textContent()).resolves.toContain('numcpus');
    // The service gives every worker the admin builder.
    await expect(row.locator('.builders').textContent()).resolves.toBe('admin');
    await screenshot('01-worker-attached');
  });

  it('ties the worker row to its connection machine: a click draws it', async () => {
    const row = page.locator(`#workers tr[data-worker="${WORKER_NAME}"]`);
    const actorId = await row.getAttribute('data-machine');
    expect(actorId).toBeTruthy();
    await row.click();
    const selected = page.locator('#actors li.selected');
    await expect(selected.getAttribute('data-actor')).resolves.toBe(actorId);
    await expect(selected.getAttribute('data-worker')).resolves.toBe(WORKER_NAME);
    await page.locator('#machine svg[data-machine="masterConnection"]').waitFor();
    await expect(page.locator('#machine .current-state').textContent()).resolves.toBe('attached');
  });

  it('streams a command\'s output in, stdout and stderr apart, then its rc', async () => {
    const response = await farm.api('/api/exec', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ workers: [WORKER_NAME], command: ['sh', '-c', 'echo to-stdout; echo to-stderr >&2; exit 3'] }),
    });
    await response.text();
    const command = page.locator('section.command').first();
    await command.locator('.result', { hasText: 'rc 3' }).waitFor();
    await expect(command.locator('.stdout').allTextContents()).resolves.toContain('to-stdout\n');
    await expect(command.locator('.stderr').allTextContents()).resolves.toContain('to-stderr\n');
    await expect(command.locator('.result').getAttribute('class')).resolves.toContain('rc-bad');
    await screenshot('02-command-output');
  });

  it('moves a transfer\'s bar until it is full', async () => {
    // Every value the bar takes, recorded in the page as it happens. (Page code is a string: the
    // tests compile without the DOM library.)
    await page.evaluate(`
      window.barValues = [];
      new MutationObserver((mutations) => {
        for (const mutation of mutations) window.barValues.push(Number(mutation.target.getAttribute('data-bytes')));
      }).observe(document.querySelector('#transfers'), { subtree: true, attributes: true, attributeFilter: ['data-bytes'] });
    `);
    const size = 4 * 1024 * 1024;
    const response = await farm.api(`/api/workers/${WORKER_NAME}/files?path=incoming/big.bin`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(size, 7),
    });
    expect(await response.text()).toContain('"results":0');
    const row = page.locator('#transfers tr.done');
    await row.waitFor();
    const values = (await page.evaluate('window.barValues')) as number[];
    expect(new Set(values).size, `bar values ${values.join(',')}`).toBeGreaterThan(2);
    expect(values.at(-1)).toBe(size);
    expect([...values].sort((left, right) => left - right)).toEqual(values);
    const bar = row.locator('progress');
    await expect(bar.getAttribute('value')).resolves.toBe(String(size));
    await expect(bar.getAttribute('max')).resolves.toBe(String(size));
    await screenshot('03-transfer');
  });

  it('draws an actor\'s machine and highlights its state as it changes', async () => {
    const item = page.locator('#actors li', { hasText: /^masterConnection / }).first();
    await item.click();
    const drawing = page.locator('#machine svg[data-machine="masterConnection"]');
    await drawing.waitFor();
    const before = await drawing.locator('g.current').getAttribute('data-state');
    expect(before).toBe('masterConnection.attached');
    await screenshot('04-machine-before');
    await farm.stopWorker();
    await page.waitForFunction(`document.querySelector('#machine svg g.current')?.getAttribute('data-state') === 'masterConnection.detached'`);
    await expect(page.locator('#machine .current-state').textContent()).resolves.toBe('detached');
    // The row follows the connection machine; the listener's detach adds why.
    const state = page.locator(`#workers tr[data-worker="${WORKER_NAME}"] .state`, { hasText: 'detached' });
    await state.waitFor();
    await page.waitForFunction(`document.querySelector('#workers tr[data-worker="${WORKER_NAME}"] .state')?.getAttribute('title')`);
    await screenshot('05-machine-after');
  });

  it('sends the token from the #token= fragment with its data requests, and drops it from the address', async () => {
    const tokenPage = await browser!.newPage();
    const authorizations = new Map<string, string | undefined>();
    tokenPage.on('request', (request) => {
      const path = new URL(request.url()).pathname;
      if (path === '/dashboard/events' || path === '/dashboard/machines.json') authorizations.set(path, request.headers()['authorization']);
    });
    await tokenPage.goto(`${farm.dashboardUrl}/dashboard/#token=${farm.token}`);
    await tokenPage.locator('#status', { hasText: 'live' }).waitFor({ timeout: WAIT_MS });
    expect(Object.fromEntries(authorizations)).toEqual({
      '/dashboard/machines.json': `Bearer ${farm.token}`,
      '/dashboard/events': `Bearer ${farm.token}`,
    });
    expect(new URL(tokenPage.url()).hash).toBe('');
    await tokenPage.close();
  });
});
