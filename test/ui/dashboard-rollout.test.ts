import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { adminCall } from '../helpers/admin-call.js';
import { startSwitchyard } from '../helpers/switchyard.js';
import { rolloutEvent } from '../helpers/traffic.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/** The dashboard's rollout region (SPEC §11: rollout progress, promote/pause/abort) in a real browser. Needs `npm run build`. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = process.env.CI === 'true';
if (!HAVE_CHROMIUM && !IN_CI) console.log("skipped test/ui/dashboard-rollout.test.ts: needs Debian's chromium (apt-get install chromium)");

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)('dashboard rollout region in a real browser', () => {
  let context: BrowserContext;
  let page: Page;
  let app: Switchyard;
  const upstreams: Upstream[] = [];
  const profile = mkdtempSync(join(tmpdir(), 'switchyard-chromium-'));
  const card = () => page.locator('article[data-service="demo"]');
  const region = () => card().locator('section.rollout');
  const dialog = () => page.locator('dialog#confirm');

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) throw new Error(`CI=true but chromium is missing at ${CHROMIUM}: apt-get install chromium`);
    const blue = await startUpstream('hello from blue');
    const green = await startUpstream('hello from green');
    upstreams.push(blue, green);
    app = await startSwitchyard([{ name: 'demo', stacks: { blue: { targets: [blue.address] }, green: { targets: [green.address] } } }]);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(8000);
  });

  afterAll(async () => {
    await context?.close();
    await app?.stop(0);
    await Promise.all(upstreams.map((u) => u.close()));
    rmSync(profile, { recursive: true, force: true });
  });

  it('shows a rollout waiting for promote, promotes it behind a confirmation, and follows it to completed', async () => {
    await page.goto(`${app.adminUrl}/ui/`);
    await expect.poll(() => page.locator('#connection').textContent()).toContain('Live');
    expect(await region().isHidden()).toBe(true);

    const paused = rolloutEvent(app, (e) => e.action === 'paused');
    await adminCall(app, 'POST', '/v1/services/demo/rollouts', { to: 'green', steps: [{ weight: 20 }, { pause: {} }, { weight: 100 }] });
    await paused;
    // Live: the page learns of it from the event stream.
    await expect
      .poll(() => region().locator('.rollout-summary').textContent())
      .toBe('blue → green · paused · step 2/3: pause until promoted · blue 80 · green 20');
    expect(await region().locator('.rollout-reason').textContent()).toBe('waiting for promote');
    expect(await region().getByRole('button', { name: 'Resume' }).isEnabled()).toBe(true);

    await region().getByRole('button', { name: 'Promote', exact: true }).click();
    await expect.poll(() => dialog().isVisible()).toBe(true);
    expect(await dialog().textContent()).toContain('Skips what the rollout waits for now');
    await dialog().getByRole('button', { name: 'Promote', exact: true }).click();
    await expect.poll(() => region().locator('.rollout-summary').textContent()).toBe('blue → green · completed · step 3/3: weight 100 · blue 0 · green 100');
    expect(await region().locator('.switch-row').isHidden()).toBe(true);
    expect(await region().locator('progress').getAttribute('value')).toBe('3');
  });

  it('aborts a running rollout from the page: all traffic back, the reason shown', async () => {
    await adminCall(app, 'POST', '/v1/services/demo/rollouts', { to: 'blue', steps: [{ weight: 30 }, { pause: '1h' }, { weight: 100 }] });
    await expect
      .poll(() => region().locator('.rollout-summary').textContent())
      .toMatch(/^green → blue · running · step 2\/3: pause 1h · (59|60) min \d+ s left · blue 30 · green 70$/);
    await region().getByRole('button', { name: 'Abort' }).click();
    await page.locator('#confirm-reason').fill('looks wrong');
    await dialog().getByRole('button', { name: 'Abort' }).click();
    await expect.poll(() => region().locator('.rollout-reason').textContent()).toBe('aborted: looks wrong');
    expect(await region().locator('.rollout-summary').textContent()).toContain('aborted');
    expect((await adminCall(app, 'GET', '/v1/services/demo')).body.weights).toEqual({ blue: 0, green: 100 });
  });
});
