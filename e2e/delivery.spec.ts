// Delivery faults (issue 14): wasm binaries found without `wasmPaths`, chunks that fail to load
// (404, no CORS header on another origin, a tampered chunk under the integrity import map) and a
// tampered wasm binary. Each ends with the shop's order (or another backend) and a reported reason.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname } from 'node:path';
import type { Page } from '@playwright/test';
import type { Decision, VitrineStatus } from '@vitrine/sdk';
import { test, expect, init, CATALOG, MODEL, type TestWindow } from './fixtures';

const DIST = new URL('../packages/sdk/dist/', import.meta.url);
const MODELS = new URL('../models/', import.meta.url);
const CDN = 'http://127.0.0.1:4174';

type ShopWindow = Window & { decision?: Decision; renders: number };

/**
 * A shop page: its own order rendered first, a queued callback that ranks and renders again, and
 * the script tag (`src`, extra attributes) after `head` (an import map, say).
 */
function shopPage(src: string, { head = '', attrs = '' } = {}): string {
  return `<!doctype html><html><head><meta charset="utf-8">${head}</head><body><div id="offers"></div><script>
    window.renders = 0;
    const render = (ids) => { window.renders += 1; document.getElementById('offers').textContent = ids.join(','); };
    const activities = ${JSON.stringify(CATALOG)};
    render(activities.map((a) => a.id));
    (window.vitrineQueue = window.vitrineQueue || []).push((v) =>
      v.rank(activities).then((d) => { window.decision = d; render(d.items.map((i) => i.id)); }));
  </script><script async src="${src}" data-model="${MODEL}" data-backend="auto" ${attrs}></script></body></html>`;
}

async function openShop(page: Page, html: string): Promise<Decision> {
  await page.route('**/e2e/shop.html', (route) => route.fulfill({ contentType: 'text/html', body: html }));
  await page.goto('/e2e/shop.html');
  await expect.poll(() => page.evaluate(() => Boolean((window as unknown as ShopWindow).decision)), { timeout: 60_000 }).toBe(true);
  return page.evaluate(() => (window as unknown as ShopWindow).decision!);
}

const readyStatus = (page: Page) =>
  page.evaluate(async () => (await (window as unknown as { Vitrine: { ready: Promise<{ status: VitrineStatus }> } }).Vitrine.ready).status);

/** The shop's order, untouched, with the reason the SDK gave. */
function expectShopOrder(d: Decision, reason: RegExp) {
  expect(d.backend).toBe('rules');
  expect(d.items.map((i) => i.id)).toEqual(CATALOG.map((a) => a.id));
  expect(d.degraded).toMatch(reason);
}

/** Removes the browser's own console errors for a fault this test makes on purpose; anything else still fails the test. */
function expectBrowserErrors(pageErrors: string[], expected: RegExp) {
  const ours = pageErrors.filter((e) => expected.test(e));
  expect(ours.length).toBeGreaterThan(0);
  pageErrors.splice(0, pageErrors.length, ...pageErrors.filter((e) => !expected.test(e)));
}

test('unbundled ESM finds the wasm binaries beside the SDK (no wasmPaths), verified, with no 404', async ({ page }) => {
  const failures: string[] = [];
  page.on('response', (r) => r.status() >= 400 && !r.url().endsWith('favicon.ico') && failures.push(`${r.status()} ${r.url()}`));
  await page.goto('/e2e/blank.html');
  const status = await page.evaluate(async (model) => {
    const entry = '/sdk/index.js'; // the built ESM entry, unbundled
    const sdk = (await import(/* @vite-ignore */ entry)) as typeof import('@vitrine/sdk');
    const v = await sdk.createVitrine({ model, backend: 'wasm', storage: 'memory' });
    (window as unknown as TestWindow).__v = v;
    return v.status;
  }, MODEL);
  expect(status.backend, status.selection?.reason).toBe('wasm');
  expect(status.warnings).toEqual([]);
  expect(failures).toEqual([]);
  // What the check costs: sha256 of the binary this Chromium uses (SIMD) with WebCrypto.
  const ms = await page.evaluate(async () => {
    const bytes = await (await fetch('/sdk/tfjs-backend-wasm-simd.wasm')).arrayBuffer();
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await crypto.subtle.digest('SHA-256', bytes);
      times.push(performance.now() - t0);
    }
    return { median: times.sort((a, b) => a - b)[2], bytes: bytes.byteLength };
  });
  test.info().annotations.push({ type: 'wasm sha256', description: `${ms.median.toFixed(2)} ms for ${ms.bytes} bytes` });
});

for (const fault of ['tampered', '404'] as const) {
  test(`a ${fault} wasm binary is refused with its cause; 'wasm' falls back, 'auto' reports no race and remembers none`, async ({
    page,
  }) => {
    const real = readFileSync(new URL('tfjs-backend-wasm-simd.wasm', DIST));
    const tampered = Buffer.from(real);
    tampered[tampered.length >> 1] ^= 0xff;
    await page.route('**/sdk/tfjs-backend-wasm*.wasm', (route) =>
      fault === '404'
        ? route.fulfill({ status: 404, body: 'not found' })
        : route.fulfill({ contentType: 'application/wasm', body: route.request().url().endsWith('-simd.wasm') ? tampered : real }),
    );
    const cause =
      fault === '404'
        ? /wasm failed: HTTP 404 for http:\/\/127\.0\.0\.1:4173\/sdk\/tfjs-backend-wasm-simd\.wasm/
        : /wasm failed: .*tfjs-backend-wasm-simd\.wasm: sha256 [0-9a-f]{64} does not match this SDK build's/;

    const wasm = await init(page, { backend: 'wasm', storage: 'memory' });
    expect(wasm.backend).not.toBe('wasm');
    expect(wasm.backend).not.toBe('rules');
    expect(wasm.selection!.reason).toMatch(/^backend 'wasm' requested but unavailable; fell back to /);
    expect(wasm.warnings.join('\n')).toMatch(cause);
    expect(JSON.stringify(wasm)).not.toMatch(/not available in this browser/);
    const d = await page.evaluate((c) => (window as unknown as TestWindow).__v.rank(c), CATALOG);
    expect(d.backend).toBe(wasm.backend);

    const auto = await init(page, { backend: 'auto', storage: 'memory' });
    test.skip(!auto.adapter?.isFallbackAdapter, 'hardware WebGPU adapter: no race');
    expect(auto.backend).toBe('webgpu');
    expect(auto.selection!.reason).not.toMatch(/faster|earlier visit/);
    expect(auto.selection!.reason).toMatch(/no race, wasm failed/);
    expect(auto.selection!.timingsMs).toEqual({ webgpu: expect.any(Number) });
    expect(auto.warnings.join('\n')).toMatch(cause);

    // The shop fixes its set-up: the next visit ranks on wasm at once and races again in the
    // background (nothing was remembered).
    await page.unrouteAll();
    const fixed = await init(page, { backend: 'auto', storage: 'memory' });
    expect(fixed).toMatchObject({ backend: 'wasm', selection: { pending: 'webgpu' }, warnings: [] });
    const current = () => page.evaluate(() => (window as unknown as TestWindow).__v.status);
    await expect.poll(async () => (await current()).selection?.pending ?? null, { timeout: 60_000 }).toBeNull();
    const raced = await current();
    expect(raced.selection!.reason).toMatch(/was faster on a 256-candidate warm-up/);
    expect(raced.selection!.timingsMs).toMatchObject({ webgpu: expect.any(Number), wasm: expect.any(Number) });
    expect(raced.warnings).toEqual([]);
  });
}

test('the scoring chunk answering 404: the queue gets the shop order with the chunk named, and a retry ranks once it is back', async ({
  page,
}) => {
  let broken = true;
  await page.route('**/sdk/chunks/select-*.js', (route) => (broken ? route.fulfill({ status: 404, body: 'not found' }) : route.fallback()));
  const d = await openShop(page, shopPage('/sdk/vitrine.min.js'));
  expectShopOrder(d, /the scoring chunk could not be loaded \(.*\/sdk\/chunks\/select-[^/]+\.js/);
  const status = await readyStatus(page);
  expect(status).toMatchObject({ backend: 'rules', modelVersion: expect.any(String) });
  expect(status.degraded).toMatch(
    /^scoring_failed: model \S+ verified, but no backend could start: the scoring chunk could not be loaded .*; retry 1 of 10/,
  );
  broken = false;
  // The retry imports the chunk again (Chromium does not keep a failed dynamic import) and ranks on the model.
  await expect.poll(async () => (await readyStatus(page)).backend, { timeout: 30_000 }).not.toBe('rules');
  const again = await page.evaluate(
    async (c) => (await (window as unknown as { Vitrine: { ready: Promise<TestWindow['__v']> } }).Vitrine.ready).rank(c),
    CATALOG,
  );
  expect(again.degraded).toBeUndefined();
});

/**
 * A shop on http://127.0.0.1:4175 (its page and its model) loading the SDK from a CDN on
 * http://127.0.0.1:4174: real servers, since Chromium neither holds responses that page.route
 * fulfils to CORS nor lets a fulfilled page reach loopback. `withCors(path)` says which CDN files
 * get `Access-Control-Allow-Origin: *`.
 */
const SHOP = 'http://127.0.0.1:4175';
let withCors: (path: string) => boolean = () => true;
let shopHtml = '';
const servers: Server[] = [];
test.beforeAll(async () => {
  const types: Record<string, string> = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', CDN).pathname;
    const onCdn = req.socket.localPort === 4174;
    if (!onCdn && path === '/shop.html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(shopHtml);
      return;
    }
    let file: URL | undefined;
    if (onCdn && path.startsWith('/sdk/')) file = new URL(path.slice('/sdk/'.length), DIST);
    else if (!onCdn && path.startsWith('/models/')) file = new URL(path.slice('/models/'.length), MODELS);
    if (!file || path.includes('..') || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    const headers: Record<string, string> = { 'content-type': types[extname(path)] ?? 'application/octet-stream' };
    if (onCdn && withCors(path)) headers['access-control-allow-origin'] = '*';
    res.writeHead(200, headers).end(readFileSync(file));
  };
  for (const port of [4174, 4175]) {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  }
});
test.afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

/** Opens the shop on its own origin with the SDK from the CDN; `cors` picks the CDN files with a CORS header. */
async function openCdnShop(page: Page, cors: (path: string) => boolean, wait = true): Promise<Decision | undefined> {
  withCors = cors;
  shopHtml = shopPage(`${CDN}/sdk/vitrine.min.js`);
  await page.goto(`${SHOP}/shop.html`);
  if (!wait) return undefined;
  await expect.poll(() => page.evaluate(() => Boolean((window as unknown as ShopWindow).decision)), { timeout: 60_000 }).toBe(true);
  return page.evaluate(() => (window as unknown as ShopWindow).decision!);
}

test('SDK on another origin with CORS headers: the script tag ranks on the model, wasm binary included', async ({ page }) => {
  const d = (await openCdnShop(page, () => true))!;
  expect(['webgpu', 'wasm']).toContain(d.backend);
  expect((await readyStatus(page)).warnings).toEqual([]);
});

test('a chunk served without a CORS header: the queue still runs, with the shop order and the chunk named', async ({
  page,
  pageErrors,
}) => {
  const d = (await openCdnShop(page, (path) => !/\/chunks\/select-/.test(path)))!;
  expectShopOrder(d, /the scoring chunk could not be loaded \(.*127\.0\.0\.1:4174\/sdk\/chunks\/select-[^/]+\.js/);
  expect((await readyStatus(page)).degraded).toMatch(/^scoring_failed: /);
  expectBrowserErrors(pageErrors, /blocked by CORS policy/);
});

test("the entry served without a CORS header: the shop's order rendered first is what stays, no error from the SDK", async ({
  page,
  pageErrors,
}) => {
  const warnings: string[] = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  await openCdnShop(page, (path) => !/\/index\.js$|\/chunks\/index-/.test(path), false);
  await expect.poll(() => warnings.some((w) => w.includes('[vitrine] init failed')), { timeout: 30_000 }).toBe(true);
  expect(await page.evaluate(() => (window as unknown as ShopWindow).renders)).toBe(1);
  expect(await page.locator('#offers').textContent()).toBe(CATALOG.map((a) => a.id).join(','));
  expectBrowserErrors(pageErrors, /blocked by CORS policy/);
});

/** dist/integrity-importmap.html for a page that serves dist/ at /sdk. */
function pinned(): { head: string; scriptIntegrity: string } {
  const snippet = readFileSync(new URL('integrity-importmap.html', DIST), 'utf8').replaceAll('__VITRINE_BASE__', '/sdk');
  const head = /<script type="importmap">[\s\S]*?<\/script>/.exec(snippet)![0];
  const scriptIntegrity = /vitrine\.min\.js" integrity="([^"]+)"/.exec(snippet)![1];
  return { head, scriptIntegrity };
}

test('pinned with the integrity import map: the untampered SDK ranks on the model', async ({ page }) => {
  const { head, scriptIntegrity } = pinned();
  const d = await openShop(
    page,
    shopPage('/sdk/vitrine.min.js', { head, attrs: `integrity="${scriptIntegrity}" crossorigin="anonymous"` }),
  );
  expect(['webgpu', 'wasm']).toContain(d.backend);
});

test('pinned with the integrity import map: a tampered chunk is refused, the shop order comes back with the chunk named', async ({
  page,
  pageErrors,
}) => {
  const { head, scriptIntegrity } = pinned();
  await page.route('**/sdk/chunks/select-*.js', async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, body: `${await response.text()}\nglobalThis.tampered = true;\n` });
  });
  const d = await openShop(
    page,
    shopPage('/sdk/vitrine.min.js', { head, attrs: `integrity="${scriptIntegrity}" crossorigin="anonymous"` }),
  );
  expectShopOrder(d, /the scoring chunk could not be loaded \(.*\/sdk\/chunks\/select-[^/]+\.js/);
  expect(await page.evaluate(() => 'tampered' in globalThis)).toBe(false);
  expectBrowserErrors(pageErrors, /integrity|digest/i);
});
