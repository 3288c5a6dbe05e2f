/**
 * @vitrine/vue in a real Vue 3.5 app (e2e/apps/vue), built with Vite against the BUILT package
 * (packages/vue/dist through its "import" export), rendered on the server in this process with
 * @vue/server-renderer and hydrated in Chromium. Checks: the slot ranks (with the QA data
 * attributes); the no-flicker rule (recorded orders, also with a model that arrives late); the
 * viewability rule; SSR (default order, no browser API touched) and hydration without warnings.
 * Prints the measured time to the ranked order.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test as plainTest, type BrowserContext, type Page } from '@playwright/test';
import sirv from 'sirv';
import type { Vitrine } from '@vitrine/sdk';
import { buildBinding } from '../scripts/build-bindings';
import { test, expect, capturingLogger, CATALOG, MODEL } from './fixtures';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const APP = join(ROOT, 'e2e/apps/vue');
/** Inside the app's git-ignored dist/ so that Node resolves the SSR entry's externals (vue, @vitrine/vue) from the repo. */
const OUT = join(APP, 'dist', `e2e-${process.pid}-${randomBytes(4).toString('hex')}`);
const CONTEXT = { destination: 'No Urgent Place', weather: 'Sunny', time: '10AM' };
const DEFAULT_BUDGET_MS = 150;
/** Client creation before the slot's start plus one render, on a loaded 2-core machine. */
const RENDER_SLACK_MS = 40;
const DEFAULT_ORDER = CATALOG.slice(0, 3).map((a) => a.id);

/** What the app renders from (e2e/apps/vue/src/shop.ts ShopState; that workspace is not imported here). */
interface ShopState {
  activities: typeof CATALOG;
  model: string;
  budgetMs?: number;
  slots: number;
  context: Record<string, string>;
  spacerPx: number;
}

type Render = (state: ShopState) => Promise<string>;

interface RecordedOrder {
  t: number;
  order: string;
}

interface ShopWindow {
  __orders: RecordedOrder[];
  __shopTest?: { mountedAt?: number; readyAt?: number; client?: Vitrine | null };
}

let server: Server;
/** Set once the tests are done: the app server answers nothing more. */
let closing = false;
let base = '';
/** Browser globals read while the server module loaded and rendered, with the first frame of our code. */
const browserApiReads: string[] = [];

/**
 * Records every read of `window`, `document`, `indexedDB` and `localStorage` made by Vitrine's
 * own built code (a stack frame in packages/…/dist), `typeof` checks included.
 */
function trapBrowserGlobals(): () => void {
  const names = ['window', 'document', 'indexedDB', 'localStorage'] as const;
  for (const name of names) {
    Object.defineProperty(globalThis, name, {
      configurable: true,
      get() {
        const ours = new Error().stack?.split('\n').find((line) => /\/packages\/[^/]+\/dist\//.test(line));
        if (ours) browserApiReads.push(`${name} at ${ours.trim()}`);
        return undefined;
      },
    });
  }
  return () => {
    for (const name of names) delete (globalThis as Record<string, unknown>)[name];
  };
}

test.beforeAll(async () => {
  test.setTimeout(240_000);
  // The package as published: packages/vue/dist, built from the current sources.
  const built = await buildBinding('vue');
  console.log(`vue: ${built!.name} dist/index.js ${built!.bytes} B, ${built!.gzipBytes} B gzip (without the SDK and Vue)`);
  const { build } = await import('vite');
  const warnings: string[] = [];
  const common = { root: APP, logLevel: 'warn' as const, customLogger: capturingLogger(warnings) };
  await build({ ...common, build: { outDir: join(OUT, 'client') } });
  await build({ ...common, build: { ssr: 'src/entry-server.ts', outDir: join(OUT, 'server') } });
  expect(warnings.filter((w) => /vitrine|hydration/i.test(w))).toEqual([]);

  const untrap = trapBrowserGlobals();
  const { render } = (await import(pathToFileURL(join(OUT, 'server/entry-server.js')).href)) as { render: Render };
  const template = readFileSync(join(OUT, 'client/index.html'), 'utf8');
  // Served the way docs/deploy.md asks shops to: Vite's content-hashed assets and the model's files
  // immutable, the model's manifest revalidated (warm loads then use the browser's caches, wasm code cache included).
  const immutable = 'public, max-age=31536000, immutable';
  const assets = sirv(join(OUT, 'client'), { etag: true, setHeaders: (res) => res.setHeader('Cache-Control', immutable) });
  const models = sirv(join(ROOT, 'models'), {
    etag: true,
    setHeaders: (res, pathname) => res.setHeader('Cache-Control', /^\/[^/]+\/manifest\.json$/.test(pathname) ? 'no-cache' : immutable),
  });
  const notFound = (res: ServerResponse) => () => {
    res.statusCode = 404;
    res.end('not found');
  };
  server = createServer((req, res) => {
    // After the last test: a late request (the browser's keep-alive) must not open a file being deleted.
    if (closing) return void res.writeHead(503).end();
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/') {
      const q = url.searchParams;
      const state: ShopState = {
        activities: CATALOG,
        model: MODEL,
        slots: 3,
        context: CONTEXT,
        spacerPx: Number(q.get('spacer') ?? 0),
        ...(q.has('budget') ? { budgetMs: Number(q.get('budget')) } : {}),
      };
      // ?mismatch: the client hydrates from a different catalog order than the server rendered (the negative control).
      const clientState = q.has('mismatch') ? { ...state, activities: [...CATALOG].reverse() } : state;
      render(state).then(
        (html) => {
          const json = JSON.stringify(clientState).replace(/</g, '\\u003c');
          res.setHeader('Content-Type', 'text/html; charset=utf-8');
          res.end(template.replace('<!--ssr-html-->', html).replace('<!--ssr-state-->', `<script>window.__SHOP__ = ${json};</script>`));
        },
        (error: unknown) => {
          res.statusCode = 500;
          res.end(String(error));
        },
      );
    } else if (url.pathname === '/favicon.ico') {
      res.statusCode = 204; // no 404 in the console: every failed request counts as an error below
      res.end();
    } else if (url.pathname.startsWith('/models/')) {
      req.url = req.url!.slice('/models'.length);
      models(req, res, notFound(res));
    } else {
      assets(req, res, notFound(res));
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  // One render under the trap; the tests' own renders run without it (the page requests them).
  await render({ activities: CATALOG, model: MODEL, slots: 3, context: CONTEXT, spacerPx: 0 });
  untrap();
});

test.afterAll(async () => {
  closing = true;
  server?.closeAllConnections();
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  // A file stream a handler opened just before may still be opening: let it settle before the files go.
  await new Promise((r) => setTimeout(r, 250));
  rmSync(OUT, { recursive: true, force: true });
});

/** Records the slot's card order from the moment the server's HTML is parsed (before hydration). */
async function recordOrders(page: Page | BrowserContext) {
  await page.addInitScript(() => {
    const w = window as unknown as ShopWindow;
    w.__orders = [];
    const read = () => {
      const slot = document.querySelector('[data-vitrine-slot="offers"]');
      if (!slot) return;
      const order = [...slot.querySelectorAll('[data-vitrine-activity]')].map((e) => e.getAttribute('data-vitrine-activity')).join(',');
      if (w.__orders.at(-1)?.order !== order) w.__orders.push({ t: performance.now(), order });
    };
    // 'interactive': the HTML is parsed and module scripts (the hydration) have not run yet.
    document.addEventListener('readystatechange', () => {
      if (document.readyState !== 'interactive') return;
      read();
      new MutationObserver(read).observe(document.body, { childList: true, subtree: true, attributes: true });
    });
  });
}

/** Loads the page and waits until the slot settled (ranked, missed or failed). */
async function loadShop(page: Page, query = '') {
  await page.goto(`${base}/${query}`);
  const slot = page.locator('[data-vitrine-slot="offers"]');
  await expect(slot).not.toHaveAttribute('data-phase', 'default', { timeout: 30_000 });
  return page.evaluate(() => {
    const w = window as unknown as ShopWindow;
    const el = document.querySelector('[data-vitrine-slot="offers"]')!;
    return {
      phase: el.getAttribute('data-phase'),
      personalized: el.getAttribute('data-personalized') === 'yes',
      rankedAfterMs: Number(el.getAttribute('data-ranked-after-ms')) || null,
      mountedAt: w.__shopTest!.mountedAt!,
      readyAt: w.__shopTest!.readyAt ?? null,
      navigation: performance.getEntriesByType('navigation')[0].toJSON() as { responseEnd: number },
      orders: w.__orders,
      cards: [...el.querySelectorAll('[data-vitrine-activity]')].map((e) => e.getAttribute('data-vitrine-activity')!),
    };
  });
}

type Loaded = Awaited<ReturnType<typeof loadShop>>;

/** The no-flicker rule on what the page showed: the server's order first, at most one change, within the budget. */
function expectNoFlicker(loaded: Loaded, budgetMs: number) {
  expect(loaded.orders[0].order).toBe(DEFAULT_ORDER.join(','));
  expect(loaded.orders.length).toBeLessThanOrEqual(2);
  if (loaded.orders.length === 2) {
    expect(loaded.phase).toBe('ranked');
    // The rule on the slot's own clock: from its start to the ranked answer.
    expect(loaded.rankedAfterMs).toBeLessThanOrEqual(budgetMs);
    // And on the page: mountedAt is taken before the slot's start (the client's creation runs in between),
    // so the DOM's change comes after the slot's time and at most a render's slack past the budget.
    const shownAfterMs = loaded.orders[1].t - loaded.mountedAt;
    expect(shownAfterMs).toBeGreaterThanOrEqual(loaded.rankedAfterMs!);
    expect(shownAfterMs).toBeLessThanOrEqual(budgetMs + RENDER_SLACK_MS);
  }
  expect(loaded.orders.at(-1)!.order).toBe(loaded.cards.join(','));
}

const viewsAndClicks = (page: Page) =>
  page.evaluate(async () => {
    const client = (window as unknown as ShopWindow).__shopTest!.client!;
    const { events } = await client.exportProfile();
    return events.filter((e) => e.outcome === 'view' || e.outcome === 'click').map((e) => `${e.outcome}:${e.activityId}`);
  });

test('SSR: Node renders the default order with the QA attributes and touches no browser API', async ({ request }) => {
  expect(browserApiReads).toEqual([]);
  const html = await (await request.get(`${base}/`)).text();
  expect(html).toContain('data-vitrine-slot="offers"');
  expect([...html.matchAll(/data-vitrine-activity="([^"]+)"/g)].map((m) => m[1])).toEqual(DEFAULT_ORDER);
  expect(html).toContain('data-phase="default"');
});

test('ranks: the slot shows the ranked order with slot and card attributes; hydration does not warn', async ({ page }) => {
  const hydration: string[] = [];
  page.on('console', (m) => void (/hydration/i.test(m.text()) && hydration.push(`${m.type()}: ${m.text()}`)));
  await recordOrders(page);
  // A generous budget: this checks what ranking renders; the default budget is measured below.
  const loaded = await loadShop(page, '?budget=20000');
  expect(loaded.phase).toBe('ranked');
  expect(loaded.personalized).toBe(true);
  expect(loaded.cards).toHaveLength(3);
  expect(new Set(loaded.cards).size).toBe(3);
  for (const id of loaded.cards) expect(CATALOG.map((a) => a.id)).toContain(id);
  expect(loaded.rankedAfterMs).toBeGreaterThan(0);
  expectNoFlicker(loaded, 20_000);
  expect(hydration).toEqual([]);
  await expect(page.locator('.consent')).toHaveText('profile');
  await expect(page.locator('.status')).toHaveAttribute('data-ready', 'yes');
});

test('no flicker at the default budget: measured time to the ranked order over cold and warm loads', async ({ context }) => {
  test.setTimeout(180_000);
  await recordOrders(context);
  const runs: Record<string, string | number | null>[] = [];
  const errors: string[] = [];
  for (let i = 0; i < 8; i++) {
    // A new tab per load (same HTTP cache and storage), after the previous one had time to go away: on this
    // 2-core machine a page torn down at the same moment (its SwiftShader WebGPU device, its wasm heap) delays
    // the next one's commit or model load by 500-800 ms, which is this machine, not the binding.
    const tab = await context.newPage();
    tab.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    tab.on('console', (m) => void (m.type() === 'error' && errors.push(`console.error: ${m.text()}`)));
    const loaded = await loadShop(tab);
    await tab.close();
    await new Promise((r) => setTimeout(r, 1500));
    expectNoFlicker(loaded, DEFAULT_BUDGET_MS);
    if (loaded.phase === 'missed') expect(loaded.cards).toEqual(DEFAULT_ORDER);
    const changed = loaded.orders[1];
    runs.push({
      visit: i === 0 ? 'cold' : 'warm',
      phase: loaded.phase,
      htmlMs: Math.round(loaded.navigation.responseEnd),
      mountedMs: Math.round(loaded.mountedAt),
      clientReadyMs: loaded.readyAt === null ? null : Math.round(loaded.readyAt),
      rankedShownMs: changed ? Math.round(changed.t) : null,
      rankedAfterMountMs: changed ? Math.round(changed.t - loaded.mountedAt) : null,
      slotRankedAfterMs: loaded.rankedAfterMs === null ? null : Math.round(loaded.rankedAfterMs),
    });
  }
  expect(errors).toEqual([]);
  const ranked = runs.filter((r) => r.phase === 'ranked');
  console.log(
    `vue: time to ranked order, budget ${DEFAULT_BUDGET_MS} ms (ms since navigation start unless "after")\n` +
      runs.map((r) => JSON.stringify(r)).join('\n'),
  );
  console.log(`vue: ${ranked.length}/${runs.length} loads ranked within the budget, ${runs.length - ranked.length} kept the shop's order`);
  // Warm loads (model and wasm cached) are what most page views are; at least one must make the budget.
  expect(ranked.length).toBeGreaterThan(0);
});

test('a model that arrives after the budget: the default order stays and never changes; nothing is tracked', async ({ page }) => {
  await page.setViewportSize({ width: 800, height: 1200 });
  let delayed = 0;
  await page.route('**/models/coupons/manifest.json', async (route) => {
    delayed++;
    await new Promise((r) => setTimeout(r, 1000));
    await route.continue();
  });
  await recordOrders(page);
  const loaded = await loadShop(page);
  expect(loaded.phase).toBe('missed');
  expect(loaded.personalized).toBe(false);
  // The client becomes ready later and could rank now: the slot must not take it.
  await expect(page.locator('.status')).toHaveAttribute('data-ready', 'yes', { timeout: 30_000 });
  await page.waitForTimeout(1500); // every card fully on screen for 1.5 s
  const after = await page.evaluate(() => (window as unknown as ShopWindow).__orders);
  expect(after.map((o) => o.order)).toEqual([DEFAULT_ORDER.join(',')]);
  expect(delayed).toBeGreaterThan(0);
  expect(await viewsAndClicks(page)).toEqual([]);
});

test('viewability: >= 50% for 1 s counts once per card; 0.5 s or < 50% does not; clicks through the helper', async ({ page }) => {
  await page.setViewportSize({ width: 800, height: 400 });
  const loaded = await loadShop(page, '?budget=20000&spacer=1200');
  expect(loaded.phase).toBe('ranked');
  const [a, b, c] = loaded.cards;
  /** Scrolls so that the card's top edge is `top` px below the viewport's top. */
  const placeCard = (id: string, top: number) =>
    page.evaluate(
      ({ id, top }) => {
        const el = document.querySelector(`[data-vitrine-activity="${id}"]`)!;
        window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - top);
      },
      { id, top },
    );
  const cardHeight = await page.locator(`[data-vitrine-activity="${a}"]`).evaluate((el) => el.getBoundingClientRect().height);
  expect(cardHeight).toBe(300);

  await page.waitForTimeout(1200); // below the fold: nothing visible
  expect(await viewsAndClicks(page)).toEqual([]);

  await placeCard(a, 50); // a fully visible (b: 50 of 300 px)
  await page.waitForTimeout(1300);
  await expect.poll(() => viewsAndClicks(page)).toEqual([`view:${a}`]);

  await placeCard(b, 400 - 120); // b 40% visible (a 93%, already counted)
  await page.waitForTimeout(1600);
  await placeCard(c, 50); // c fully visible, for half a second only
  await page.waitForTimeout(500);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(1200);
  expect(await viewsAndClicks(page)).toEqual([`view:${a}`]);

  await placeCard(a, 50); // a again for 1.3 s: still one view of a for this decision
  await page.waitForTimeout(1300);
  await page.locator(`[data-vitrine-activity="${b}"] button`, { hasText: 'Take offer' }).click();
  await expect.poll(() => viewsAndClicks(page)).toEqual([`view:${a}`, `click:${b}`]);
});

// The negative control for the hydration check: with a different client order Vue does warn. Not the
// fixtures' test: Vue's production build also logs a console error for the mismatch.
plainTest('control: a server/client order mismatch is reported as a Hydration warning', async ({ page }) => {
  const hydration: string[] = [];
  page.on('console', (m) => void (/hydration/i.test(m.text()) && hydration.push(m.text())));
  await page.goto(`${base}/?mismatch=1&budget=20000`);
  await expect.poll(() => hydration.length).toBeGreaterThan(0);
});
