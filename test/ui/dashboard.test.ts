import type { IncomingMessage, ServerResponse } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { startSwitchyard, tempDir } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/**
 * The dashboard (SPEC §11) in a real browser: Debian's chromium driven by playwright-core.
 * Needs `npm run build` first (the page is served from dist/ui; `npm test` builds).
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = process.env.CI === 'true';
if (!HAVE_CHROMIUM && !IN_CI) console.log("skipped test/ui/dashboard.test.ts: needs Debian's chromium (apt-get install chromium)");

const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/**
 * Where the screenshots go: a scratch folder on every run (a test run leaves the tree
 * clean); `SCREENSHOTS=docs npm test` refreshes the ones the README shows.
 */
const DOCS = fileURLToPath(new URL(process.env.SCREENSHOTS === 'docs' ? '../../docs/' : '../../test-results/', import.meta.url));
const TOKEN = 'dashboard-token-5e1f';
const TOKEN_ENV = 'SWITCHYARD_UI_TEST_TOKEN';
/** Fast checks, so a target taken down shows within a fraction of a second. */
const CHECK = { path: '/health', interval: 200, response_timeout: 300, healthy_threshold: 1, unhealthy_threshold: 1 };

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)('dashboard in a real browser', () => {
  let context: BrowserContext;
  let page: Page;
  let app: Switchyard;
  let blue: Upstream;
  let green: Upstream;
  let blueUp = true;
  let adminPort: number;
  let origin: string;
  let services: unknown[];
  const stateDir = tempDir();
  const profile = mkdtempSync(join(tmpdir(), 'switchyard-chromium-'));
  /** Every URL the browser asked for (requests and WebSockets). */
  const requested: string[] = [];
  const cspViolations: string[] = [];

  const start = () => startSwitchyard(services, { admin: { listen: `127.0.0.1:${adminPort}` } }, stateDir);
  const proxyBody = async () => (await fetch(`http://127.0.0.1:${app.port('http')}/`)).text();
  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => (await (await fetch(`${origin}${path}`, init)).json()) as T;
  const weights = async () => (await api<{ weights: Record<string, number> }>('/v1/services/demo')).weights;
  const card = () => page.locator('article[data-service="demo"]');
  const dialog = () => page.locator('dialog#confirm');

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) throw new Error(`CI=true but chromium is missing at ${CHROMIUM}: apt-get install chromium`);
    const answer = (body: string) => (req: IncomingMessage, res: ServerResponse) => void res.writeHead(req.url === '/fail' ? 500 : 200).end(body);
    blue = await startUpstream('', answer('hello from blue'), () => blueUp);
    green = await startUpstream('', answer('hello from green'));
    services = [{ name: 'demo', health_check: CHECK, stacks: { blue: { targets: [blue.address] }, green: { targets: [green.address] } }, active: 'blue' }];
    adminPort = await freePort();
    origin = `http://127.0.0.1:${adminPort}`;
    app = await start();
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: LAUNCH_ARGS,
      viewport: { width: 1366, height: 768 },
    });
    context.on('request', (request) => requested.push(request.url()));
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(8000);
    page.on('websocket', (ws) => requested.push(ws.url()));
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
  });

  afterAll(async () => {
    delete process.env[TOKEN_ENV];
    await context?.close();
    await app?.stop(0);
    await Promise.all([blue?.close(), green?.close()]);
    rmSync(profile, { recursive: true, force: true });
  });

  it('serves the page with a strict CSP and lists the demo service with both stacks and their targets', async () => {
    const response = await page.goto(`${origin}/ui/`);
    expect(response?.status()).toBe(200);
    const headers = response?.headers() ?? {};
    expect(headers['content-security-policy']).toContain("default-src 'self'");
    expect(headers['content-security-policy']).toContain("script-src 'self'");
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['x-frame-options']).toBe('DENY');
    expect(await response?.text()).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);

    await expect.poll(() => page.locator('#connection').textContent()).toContain('Live');
    await expect
      .poll(() =>
        card()
          .locator('section[data-stack]')
          .evaluateAll((els) => els.map((e) => e.getAttribute('data-stack'))),
      )
      .toEqual(['blue', 'green']);
    const stackBlue = card().locator('[data-stack="blue"]');
    const stackGreen = card().locator('[data-stack="green"]');
    expect(await stackBlue.locator('.badge').textContent()).toContain('active');
    expect(await stackGreen.locator('.badge').textContent()).toContain('standby');
    await expect.poll(() => stackBlue.locator(`[data-target="${blue.address}"]`).getAttribute('data-health')).toBe('up');
    await expect.poll(() => stackGreen.locator(`[data-target="${green.address}"] .state`).textContent()).toContain('up');
  });

  it('switches through the page only after the confirmation, and the proxy follows', async () => {
    expect(await proxyBody()).toBe('hello from blue');
    const generation = (await api<{ generation: number }>('/v1/services/demo')).generation;
    await card().getByRole('button', { name: 'Switch to green' }).click();
    expect(await dialog().textContent()).toContain('All traffic of demo goes to green');
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    expect((await api<{ generation: number }>('/v1/services/demo')).generation).toBe(generation);
    expect(await proxyBody()).toBe('hello from blue');

    // Keyboard only: focus the button, Enter opens the dialog, type a reason, Enter confirms.
    await card().getByRole('button', { name: 'Switch to green' }).focus();
    await page.keyboard.press('Enter');
    await dialog().getByLabel('Reason').fill('release 42');
    await page.keyboard.press('Enter');
    await expect.poll(() => card().locator('.result.ok').textContent()).toContain('Switched demo to green');
    expect(await proxyBody()).toBe('hello from green');
    await expect.poll(() => card().locator('[data-stack="green"] .badge').textContent()).toContain('active');
    await expect.poll(() => card().locator('.history li').first().textContent()).toContain('release 42');
  });

  it('sets weights through the page', async () => {
    await card().getByLabel('Weight of blue').fill('30');
    await card().getByLabel('Weight of green').fill('70');
    expect(await card().locator('.hint').textContent()).toContain('blue 30 % · green 70 %');
    await card().getByRole('button', { name: 'Apply weights' }).click();
    expect(await dialog().textContent()).toContain('New split: blue 30 % · green 70 %');
    await dialog().getByRole('button', { name: 'Apply weights' }).click();
    await expect.poll(weights).toEqual({ blue: 30, green: 70 });
    await expect.poll(() => card().locator('[data-stack="blue"] .weight').textContent()).toContain('weight 30 · 30 %');
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add(await proxyBody());
    expect(seen).toEqual(new Set(['hello from blue', 'hello from green']));
  });

  it('refuses invalid weights in the page without calling the API', async () => {
    await card().getByLabel('Weight of blue').fill('0');
    await card().getByLabel('Weight of green').fill('0');
    expect(await card().locator('.hint').textContent()).toContain('must not all be zero');
    expect(await card().getByRole('button', { name: 'Apply weights' }).isDisabled()).toBe(true);
    await card().getByRole('button', { name: 'Reset' }).click();
    expect(await card().getByLabel('Weight of green').inputValue()).toBe('70');
  });

  it('rolls back through the page', async () => {
    await card().getByRole('button', { name: 'Roll back' }).click();
    expect(await dialog().textContent()).toContain('blue 0 % · green 100 %');
    await dialog().getByRole('button', { name: 'Roll back' }).click();
    await expect.poll(weights).toEqual({ blue: 0, green: 100 });
    expect(await proxyBody()).toBe('hello from green');
  });

  it('shows a target taken down as down, live, without reloading the page', async () => {
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));
    const target = card().locator(`[data-stack="blue"] [data-target="${blue.address}"]`);
    expect(await target.getAttribute('data-health')).toBe('up');
    blueUp = false;
    await expect.poll(() => target.getAttribute('data-health')).toBe('down');
    expect(await target.textContent()).toContain('✖ down');
    expect(await target.textContent()).toContain('last error: status 503');
    expect(await card().locator('[data-stack="blue"] .count').textContent()).toBe('0/1 up');
    expect(await page.locator('#events li').first().textContent()).toContain(`✖ down: demo/blue ${blue.address}`);
    expect(await page.evaluate(() => (window as { notReloaded?: boolean }).notReloaded)).toBe(true);
  });

  it('shows a 409 as the API words it', async () => {
    await card().getByRole('button', { name: 'Switch to blue' }).click();
    expect(await dialog().textContent()).toContain('blue has no healthy target');
    await dialog().getByRole('button', { name: 'Switch to blue' }).click();
    await expect
      .poll(() => card().locator('.result.error').textContent())
      .toBe('409 STACK_UNHEALTHY: stack "blue" of service "demo" has no healthy target (use force to override)');
    expect(await weights()).toEqual({ blue: 0, green: 100 });
    blueUp = true;
    await expect.poll(() => card().locator(`[data-target="${blue.address}"]`).getAttribute('data-health')).toBe('up');
  });

  it('shows live figures, certificates and takes the screenshots at laptop and phone width', async () => {
    await fetch(`${origin}/v1/certificates/self-signed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'localhost', hosts: ['localhost'] }),
    });
    await fetch(`${origin}/v1/certificates/self-signed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'shop', hosts: ['shop.example.com', 'www.shop.example.com'], days: 9 }),
    });
    await fetch(`${origin}/v1/services/demo/weights`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ weights: { blue: 90, green: 10 }, reason: 'canary 10 %' }),
    });
    const proxy = `http://127.0.0.1:${app.port('http')}`;
    for (let i = 0; i < 60; i++) await (await fetch(`${proxy}/${i % 20 === 0 ? 'fail' : ''}`)).text();
    await expect.poll(() => card().locator('[data-stack="blue"] [data-figure="rps"]').textContent(), { timeout: 10_000 }).not.toBe('—');
    await expect.poll(() => card().locator('[data-stack="green"] [data-figure="errors"]').textContent(), { timeout: 10_000 }).toMatch(/%$/);
    // Two samples draw the sparkline.
    await card().locator('[data-stack="blue"] .spark-line').waitFor({ timeout: 10_000 });
    // Checks are no events: the figures tick keeps "checked … ago" current.
    const checked = card().locator(`[data-target="${green.address}"] .check time`);
    const before = await checked.getAttribute('datetime');
    await expect.poll(() => checked.getAttribute('datetime'), { timeout: 10_000 }).not.toBe(before);
    await expect.poll(() => page.locator('[data-cert="shop"] .days').textContent()).toMatch(/^⚠ \d+ d left$/);
    expect(await page.locator('[data-cert="localhost"] .days').textContent()).toMatch(/^\d+ d left$/);

    mkdirSync(DOCS, { recursive: true });
    await page.screenshot({ path: join(DOCS, 'dashboard-laptop.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.setViewportSize({ width: 390, height: 844 });
    // Readable at phone width: everything wraps, nothing needs a sideways scroll.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(DOCS, 'dashboard-phone.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1366, height: 768 });
  });

  it('says when the event stream is gone and reconnects by itself after a restart', async () => {
    await app.stop(0);
    await expect.poll(() => page.locator('#connection').textContent()).toMatch(/Disconnected since \d\d:\d\d:\d\d/);
    app = await start();
    await expect.poll(() => page.locator('#connection').textContent(), { timeout: 10_000 }).toContain('Live');
    // The new stream delivers: a change made now shows without reloading.
    await fetch(`${origin}/v1/services/demo/switch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"to":"blue"}' });
    await expect.poll(() => card().locator('[data-stack="blue"] .badge').textContent()).toContain('active');
    expect(await page.evaluate(() => (window as { notReloaded?: boolean }).notReloaded)).toBe(true);
  });

  it('asks for the token when one is configured: a wrong one is refused, the right one works and stays in sessionStorage only', async () => {
    await app.stop(0);
    process.env[TOKEN_ENV] = TOKEN;
    app = await startSwitchyard(services, { admin: { listen: `127.0.0.1:${adminPort}`, token_env: TOKEN_ENV } }, stateDir);
    await page.goto(`${origin}/ui/`);
    const input = page.getByLabel('Token', { exact: true });
    await input.waitFor();
    expect(await page.locator('#dashboard').isHidden()).toBe(true);

    await input.fill('wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#login-error').textContent()).toBe('401 UNAUTHORIZED: A valid bearer token is required');
    expect(await page.evaluate(() => sessionStorage.getItem('switchyard.token'))).toBeNull();

    await input.fill(TOKEN);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#connection').textContent()).toContain('Live');
    expect(await card().locator('section[data-stack]').count()).toBe(2);
    expect(await page.evaluate(() => sessionStorage.getItem('switchyard.token'))).toBe(TOKEN);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(await context.cookies()).toEqual([]);
    // The live stream carries the token as a subprotocol: a health change arrives.
    blueUp = false;
    await expect.poll(() => card().locator(`[data-target="${blue.address}"]`).getAttribute('data-health')).toBe('down');
    blueUp = true;
    // A reload keeps the session (same tab) without asking again.
    await page.reload();
    await expect.poll(() => page.locator('#connection').textContent()).toContain('Live');
  });

  it('made no request to any host but its own, never put the token in a URL, and broke no CSP rule', () => {
    expect(requested.length).toBeGreaterThan(0);
    const foreign = requested.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith(`ws://127.0.0.1:${adminPort}/`));
    expect(foreign).toEqual([]);
    expect(requested.filter((url) => url.includes(TOKEN) || url.includes(Buffer.from(TOKEN).toString('base64url')))).toEqual([]);
    expect(requested.some((url) => url.startsWith(`ws://127.0.0.1:${adminPort}/v1/events`))).toBe(true);
    expect(cspViolations).toEqual([]);
  });
});
