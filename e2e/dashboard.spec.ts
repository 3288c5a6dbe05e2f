/**
 * The merchant dashboard (issue #12) in Chromium, on data from a real loop: a Vitrine server of
 * this spec's own (embedded PGlite, 127.0.0.1, port 0), the SDK in a page sending consented
 * signals to it (with the A/B holdout running), a round through the admin API, then /dashboard:
 * refused without sign-in, signed in through its form, every chart drawn from the report (data
 * pixels, not just axes), tables holding the loop's rows, no console error (the fixtures fail the
 * test on any), no serious axe violation, and a screenshot in the test's artefacts. A wrong
 * token or a forged cookie shows an error and no data.
 */
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { createServer, openDb, type VitrineServer } from '@vitrine/server';
import { testConfig } from '@vitrine/server/testing';
import { test, expect, init, CATALOG, type TestWindow } from './fixtures';

const TOKEN = 'e2e-dashboard-token-not-a-secret';
/** The spec's server runs QA privacy (rounds of one network, a huge epsilon): the page loosens its floors as the QA shop does. */
const QA_FLOORS = { maxEpsilon: 1e9, minCohort: 1, minKThreshold: 1 };
/** The release threshold of this server: small, so one browser's batches clear it; what is below it must still be hidden. */
const K = 3;
/** Shoppers (browser contexts: each its own device) and page views each; every page view is one batch. */
const DEVICES = 4;
const VIEWS = 6;
/** The merchant's policy: two segments (computed on the devices) and a pacing budget. */
const POLICY = {
  rules: { pacing: [{ activity: 'bar-1d', metric: 'impressions', perDay: 500 }] },
  segments: [
    { id: 'young', name: 'Under 30', when: { attribute: { key: 'age', in: ['21', '26'] } } },
    { id: 'returning', name: 'Returning', when: { history: { minAnswers: 3 } } },
  ],
};

let server: VitrineServer;
let base: string;

test.beforeAll(async () => {
  const config = testConfig();
  server = await createServer(
    testConfig({
      adminToken: TOKEN,
      privacy: { ...config.privacy, minCohort: 1, kThreshold: K, segmentEpsilon: 8 },
      promotion: { minEvents: 4, margin: 1, minNetworks: 1 },
    }),
    await openDb({}),
  );
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const address = server.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
  base = `http://127.0.0.1:${address.port}`;
});

test.afterAll(async () => {
  await server?.close();
});

const admin = { authorization: `Bearer ${TOKEN}` };

/** A shopper's visit: the SDK from the page, then page views that each rank three slots, view them, click 0–2 and send the batch. */
async function visit(page: Page, views: number, seed: number): Promise<string[]> {
  await init(page, {
    consent: 'signals',
    endpoint: `${base}/v1`,
    model: `${base}/v1/models/current`,
    backend: 'wasm',
    user: { age: seed % 2 ? '26' : '41' },
    privacyFloors: QA_FLOORS,
    holdout: { share: 0.5, control: 'shop-order' },
  });
  const arms: string[] = [];
  for (let i = 0; i < views; i++) {
    arms.push(
      await page.evaluate(
        async ({ catalog, n }) => {
          const v = (window as unknown as TestWindow).__v;
          const d = await v.rank(catalog, { context: { destination: n % 2 ? 'Home' : 'Work', weather: 'Sunny' }, slots: 3 });
          for (const item of d.items) await v.track(d.id, item.id, 'view');
          // 0, 1 or 2 clicks: click-through rates differ between batches, as real ones do.
          for (const item of d.items.slice(0, n % 3)) await v.track(d.id, item.id, 'click');
          await v.flush();
          return d.policy.arm ?? 'none';
        },
        { catalog: CATALOG, n: seed * 7 + i },
      ),
    );
  }
  return arms;
}

/** Console errors of a page the fixtures do not watch (the shoppers' own contexts). */
function watch(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/favicon|Failed to load resource/.test(m.text())) errors.push(`console.error: ${m.text()}`);
  });
  return errors;
}

/** Per chart canvas: pixels in one of the series' colours (bars, points, lines: data, not axes or grid). */
function dataPixels(page: Page) {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLCanvasElement>('canvas[data-testid]')].map((canvas) => {
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      // The palette of client/main.ts: blue #0b5cad (also the band, translucent), orange #b34700.
      const near = (i: number, r: number, g: number, b: number) =>
        Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 60;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 20 && (near(i, 11, 92, 173) || near(i, 179, 71, 0))) n++;
      return { chart: canvas.dataset.testid!, pixels: n, size: canvas.width * canvas.height };
    }),
  );
}

async function seriousViolations(page: Page) {
  const result = await new AxeBuilder({ page }).analyze();
  expect(result.passes.length).toBeGreaterThan(10);
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ rule: v.id, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
}

test('the dashboard draws a real loop: sign-in, charts, tables, lineage, accessible', async ({
  page,
  context,
  request,
  browser,
}, testInfo) => {
  test.setTimeout(300_000);
  expect((await request.put(`${base}/v1/admin/policy`, { headers: admin, data: POLICY })).status()).toBe(200);

  // Shoppers on their own devices send consented signals; half of their page views are in the holdout.
  const shoppers = await Promise.all(Array.from({ length: DEVICES }, () => browser.newContext({ baseURL: testInfo.project.use.baseURL })));
  const pages = await Promise.all(shoppers.map((c) => c.newPage()));
  const errors = pages.map(watch);
  const arms: string[] = [];
  for (const [d, p] of pages.entries()) arms.push(...(await visit(p, VIEWS, d)));
  expect(arms.filter((a) => a === 'control').length).toBeGreaterThanOrEqual(K);
  expect(arms.filter((a) => a === 'vitrine').length).toBeGreaterThanOrEqual(K);

  // A round publishes a shadow; the next visits rank with both models, and a later round promotes it.
  const round = await request.post(`${base}/v1/admin/rounds`, { headers: admin });
  expect(round.status()).toBe(200);
  const shadow = (await round.json()).candidate as string;
  expect(shadow).toMatch(/^coupons-/);
  for (const [d, p] of pages.entries()) await visit(p, VIEWS, d + DEVICES);
  let decision: string | undefined;
  await expect
    .poll(
      async () => {
        decision = (await (await request.post(`${base}/v1/admin/rounds`, { headers: admin })).json()).promotion?.decision;
        return decision;
      },
      { timeout: 30_000 },
    )
    .toBe('promoted');
  await Promise.all(shoppers.map((c) => c.close()));
  expect(errors.flat()).toEqual([]);

  // Not signed in: 401, and the page is the sign-in form.
  const refused = await page.goto(`${base}/dashboard`);
  expect(refused!.status()).toBe(401);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Vitrine dashboard');
  await expect(page.getByRole('alert')).toHaveText('Sign in to see the dashboard.');
  await expect(page.getByTestId('section-activities')).toHaveCount(0);
  expect(await seriousViolations(page)).toEqual([]);

  await page.getByLabel('Admin token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(`${base}/dashboard`);
  const [cookie] = await context.cookies(base);
  expect(cookie).toMatchObject({ name: 'vitrine-admin', httpOnly: true, sameSite: 'Strict', path: '/', secure: false });

  await expect(page.getByTestId('report-status')).toHaveText(/^Report of .* UTC .*k-threshold 3\.$/, { timeout: 30_000 });
  await expect(page.locator('main')).toHaveAttribute('aria-busy', 'false');
  const report = await (await request.get(`${base}/v1/admin/report`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();

  // The charts' tables (their text alternatives) open, as a reader of the tables would.
  for (const details of await page.locator('details').all()) await details.locator('summary').click();

  // Signals per hour: the loop's batches, as the server counts them (an hour below k would be suppressed).
  const hours = report.signalsPerHour as { batches: number | null; suppressed: boolean }[];
  const released = hours.reduce((a, h) => a + (h.batches ?? 0), 0);
  expect(released + (K - 1) * hours.filter((h) => h.suppressed).length).toBeGreaterThanOrEqual(2 * DEVICES * VIEWS);
  await expect(page.getByTestId('table-signals-0').locator('tbody tr')).toHaveCount(
    hours.filter((h) => (h.batches ?? 0) > 0 || h.suppressed).length,
  );
  await expect(page.getByTestId('section-signals')).toContainText(`${released} batches`);

  // CTR per activity: the released activities, each a row; how many were suppressed is said.
  expect(report.activities.length).toBeGreaterThan(0);
  const activities = page.getByRole('table', { name: /^Activities seen in at least k = 3 batches/ });
  await expect(activities.locator('tbody tr')).toHaveCount(report.activities.length);
  for (const a of report.activities) await expect(activities.locator('tbody th', { hasText: new RegExp(`^${a.id}$`) })).toHaveCount(1);
  await expect(page.getByTestId('section-activities')).toContainText(
    report.suppressedActivities ? `${report.suppressedActivities} ` : 'No activity is suppressed',
  );

  // Lift: both arms of the holdout with the loop's numbers.
  const armsTable = page.getByRole('table', { name: /^Arms: Vitrine/ });
  await expect(armsTable.locator('tbody tr')).toHaveCount(2);
  await expect(armsTable.locator('tbody tr').nth(0)).toContainText(String(report.lift.vitrine.impressions));
  await expect(armsTable.locator('tbody tr').nth(1)).toContainText(String(report.lift.control.impressions));

  // Segments: the policy's, k-anonymous; drawn when a cell clears k, else the empty state says so.
  expect(report.segments).not.toBeNull();
  if (report.segments.rows.length === 0) {
    await expect(page.getByTestId('empty-segments')).toHaveText(`No segment × activity count is above k = ${K} yet.`);
  }

  // Lineage: the seed, the promoted shadow and the decision with its off-policy evidence.
  const versions = page.getByRole('table', { name: 'Model versions, newest first' });
  await expect(versions.locator('tbody tr')).toHaveCount(report.lineage.versions.length);
  await expect(versions.locator('tbody tr', { hasText: shadow })).toContainText('current');
  const promotions = page.getByRole('table', { name: /^Promotions/ });
  await expect(promotions.locator('tbody tr')).toHaveCount(1);
  await expect(promotions).toContainText('promoted');
  await expect(promotions).toContainText(String(report.lineage.promotions[0].events));

  // Privacy and pacing: the budget in force and the merchant's budget with today's multiplier.
  await expect(page.getByTestId('facts-privacy')).toContainText(`${K} batches`);
  await expect(page.getByRole('table', { name: /^Pacing budgets/ }).locator('tbody tr')).toHaveCount(1);
  await expect(page.getByRole('table', { name: /^Pacing budgets/ })).toContainText('bar-1d');

  // Every chart the report has data for is drawn: data-coloured pixels on each canvas.
  const charts = await dataPixels(page);
  expect(charts.map((c) => c.chart)).toEqual(expect.arrayContaining(['chart-signals', 'chart-activities', 'chart-lift']));
  for (const c of charts) expect(c.pixels, c.chart).toBeGreaterThan(50);
  // Sections without data say why (never a blank canvas).
  for (const id of ['signals', 'activities', 'lift', 'segments']) {
    const hasChart = charts.some((c) => c.chart === `chart-${id}`);
    await expect(page.getByTestId(`empty-${id}`)).toHaveCount(hasChart ? 0 : 1);
  }

  expect(await seriousViolations(page)).toEqual([]);

  const path = testInfo.outputPath('dashboard.png');
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach('dashboard', { path, contentType: 'image/png' });

  // Signing out ends the session: the report is refused with the old cookie.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(`${base}/dashboard/sign-in`);
  expect(await context.cookies(base)).toEqual([]);
  await context.addCookies([{ ...cookie }]);
  expect((await page.goto(`${base}/dashboard`))!.status()).toBe(401);
});

test('a wrong token or a forged cookie shows an error and no data', async ({ page, context }) => {
  const refused = await page.goto(`${base}/dashboard/sign-in`);
  expect(refused!.status()).toBe(200);
  await page.getByLabel('Admin token').fill('wrong-token-0123456789abcdef');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('That is not the admin token');
  expect(await context.cookies(base)).toEqual([]);
  await expect(page.locator('[data-testid^="section-"], canvas, table')).toHaveCount(0);

  await context.addCookies([{ name: 'vitrine-admin', value: 'A'.repeat(43), url: base, httpOnly: true, sameSite: 'Strict' }]);
  expect((await page.goto(`${base}/dashboard`))!.status()).toBe(401);
  await expect(page.getByLabel('Admin token')).toBeVisible();
  await expect(page.locator('[data-testid^="section-"], canvas, table')).toHaveCount(0);
  const api = await page.evaluate(async () => (await fetch('/v1/admin/report')).status);
  expect(api).toBe(401);
});
