/**
 * The SDK as a shop developer gets it (issue #14): `npm pack` of packages/sdk, unpacked into a
 * fresh Vite app, run with the Vite dev server and with `vite build` + `vite preview`, and the
 * same files imported by a plain static ESM page. Each ranks on wasm, webgpu, cpu and auto in
 * Chromium with no failed request, no console error, no build warning from Vitrine's code, and
 * a status that says what ran.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import sirv from 'sirv';
import { test, expect, capturingLogger, CATALOG } from './fixtures';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Inside the repository, so the app resolves vite from the root node_modules; ignored by git. */
const APP = join(ROOT, '.consumer-app');
const BACKENDS = ['wasm', 'webgpu', 'cpu', 'auto'] as const;
/** The model files a shop deploys (docs/deploy.md): the manifest and what it lists. */
const MODEL_DIR = join(ROOT, 'models/coupons');

const MAIN = `
import { createVitrine } from '@vitrine/sdk';
const backend = new URLSearchParams(location.search).get('backend') ?? 'auto';
const catalog = ${JSON.stringify(CATALOG)};
createVitrine({ model: '/models/coupons/manifest.json', backend, storage: 'memory' })
  .then(async (v) => {
    const d = await v.rank(catalog, { slots: 3 });
    window.__result = { status: v.status, backend: d.backend, degraded: d.degraded ?? null, items: d.items.length };
  })
  .catch((e) => { window.__result = { error: String(e && e.message) }; });
`;

/** Unpacks `npm pack` of the built SDK into the app's node_modules, as `npm install <tarball>` would. */
function installTarball(): void {
  rmSync(APP, { recursive: true, force: true });
  mkdirSync(join(APP, 'node_modules/@vitrine/sdk'), { recursive: true });
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', APP], { cwd: join(ROOT, 'packages/sdk'), encoding: 'utf8' }),
  ) as { filename: string }[];
  execFileSync('tar', ['-xzf', join(APP, packed[0].filename), '-C', join(APP, 'node_modules/@vitrine/sdk'), '--strip-components=1']);
  writeFileSync(join(APP, 'package.json'), JSON.stringify({ name: 'shop', private: true, type: 'module' }));
  writeFileSync(
    join(APP, 'index.html'),
    '<!doctype html><html><body><div id="offers"></div><script type="module" src="/main.js"></script></body></html>',
  );
  writeFileSync(join(APP, 'main.js'), MAIN);
  // The deployable model files in the app's public folder.
  const manifest = JSON.parse(readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8')) as { files: { path: string }[] };
  const target = join(APP, 'public/models/coupons');
  mkdirSync(target, { recursive: true });
  cpSync(join(MODEL_DIR, 'manifest.json'), join(target, 'manifest.json'));
  for (const f of manifest.files) cpSync(join(MODEL_DIR, f.path), join(target, f.path), { recursive: true });
}

/** Requests that failed (4xx/5xx or network), by URL. */
function watchFailures(page: Page): string[] {
  const failed: string[] = [];
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) failed.push(`${r.status()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => {
    // Leaving a page for the next backend's aborts what it still had in flight (a background cache fill): not a failure.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') failed.push(`failed ${r.url()}: ${r.failure()?.errorText}`);
  });
  return failed;
}

async function rankOn(page: Page, base: string, backend: string) {
  await page.goto(`${base}/?backend=${backend}`);
  await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, undefined, {
    timeout: 90_000,
  });
  return page.evaluate(
    () =>
      (window as unknown as { __result: { status: Record<string, unknown>; backend: string; degraded: string | null; error?: string } })
        .__result,
  );
}

function expectRanked(result: Awaited<ReturnType<typeof rankOn>>, backend: (typeof BACKENDS)[number]) {
  expect(result.error).toBeUndefined();
  expect(result.degraded).toBeNull();
  if (backend === 'auto') expect(['wasm', 'webgpu']).toContain(result.backend);
  else expect(result.backend).toBe(backend);
  expect(result.status.backend).toBe(result.backend);
  expect(result.status.warnings).toEqual([]);
}

test.beforeAll(() => {
  installTarball();
});

test.afterAll(() => {
  rmSync(APP, { recursive: true, force: true });
});

test('a fresh Vite app on the packed tarball: the dev server ranks on every backend', async ({ page }) => {
  test.setTimeout(300_000);
  const { createServer } = await import('vite');
  const warnings: string[] = [];
  const server = await createServer({
    root: APP,
    configFile: false,
    logLevel: 'warn',
    customLogger: capturingLogger(warnings),
    server: { host: '127.0.0.1', port: 0, strictPort: false },
  });
  await server.listen();
  try {
    const base = server.resolvedUrls!.local[0].replace(/\/$/, '');
    const failed = watchFailures(page);
    for (const backend of BACKENDS) expectRanked(await rankOn(page, base, backend), backend);
    expect(failed).toEqual([]);
    expect(warnings.filter((w) => /vitrine/i.test(w))).toEqual([]);
  } finally {
    await server.close();
  }
});

test('the same app built with vite build and served by vite preview ranks on every backend, with no Vitrine warning', async ({ page }) => {
  test.setTimeout(300_000);
  const { build, preview } = await import('vite');
  const warnings: string[] = [];
  await build({ root: APP, configFile: false, logLevel: 'warn', customLogger: capturingLogger(warnings) });
  expect(warnings.filter((w) => /vitrine|externalized|import\.meta\.url/i.test(w))).toEqual([]);
  const server = await preview({ root: APP, configFile: false, logLevel: 'warn', preview: { host: '127.0.0.1', port: 0 } });
  try {
    const base = server.resolvedUrls!.local[0].replace(/\/$/, '');
    const failed = watchFailures(page);
    for (const backend of BACKENDS) expectRanked(await rankOn(page, base, backend), backend);
    expect(failed).toEqual([]);
  } finally {
    await new Promise<void>((done) => server.httpServer.close(() => done()));
  }
});

test('a plain static ESM page importing the unpacked dist ranks on every backend', async ({ page }) => {
  test.setTimeout(300_000);
  const unbundled = MAIN.replace("'@vitrine/sdk'", "'/node_modules/@vitrine/sdk/dist/index.js'");
  writeFileSync(join(APP, 'esm.html'), `<!doctype html><html><body><script type="module">${unbundled}</script></body></html>`);
  const statics = sirv(APP, { dev: true });
  const publicFiles = sirv(resolve(APP, 'public'), { dev: true });
  const server: Server = createHttpServer((req, res) => statics(req, res, () => publicFiles(req, res)));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  try {
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const failed = watchFailures(page);
    for (const backend of BACKENDS) {
      await page.goto(`${base}/esm.html?backend=${backend}`);
      await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, undefined, {
        timeout: 90_000,
      });
      expectRanked(await page.evaluate(() => (window as unknown as { __result: Awaited<ReturnType<typeof rankOn>> }).__result), backend);
    }
    expect(failed).toEqual([]);
  } finally {
    await new Promise<void>((done) => server.close(() => done()));
  }
});
