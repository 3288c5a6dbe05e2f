/**
 * `npm run bench`: budgets of issue #2, measured in headless Debian Chromium on this machine.
 * Prints a table per measurement; the last line is JSON.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Vitrine, VitrineOptions } from '@vitrine/sdk';
import { startStaticServer } from './serve';
import { chromiumPath } from './ensure-chromium';
import { BACKENDS as SDK_BACKENDS } from '@vitrine/sdk/internals';

/** The page under test: the script-tag build's global, and the instance the bench keeps on it. */
type BenchWindow = { Vitrine?: { init(options: VitrineOptions): Promise<Vitrine> }; __v: Vitrine };

const CHROMIUM = chromiumPath();
const ARGS = ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const DIST = 'packages/sdk/dist';
const MODEL = '/models/coupons/manifest.json';
const SIZES = [10, 100, 1000, 10000];
const BACKENDS = process.env.BENCH_BACKENDS?.split(',') ?? [...SDK_BACKENDS];

const gz = (path: string) => gzipSync(readFileSync(path), { level: 9 }).byteLength;
const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;

function listDist(dir = DIST, prefix = ''): string[] {
  return readdirSync(dir).flatMap((f) => {
    const full = join(dir, f);
    if (statSync(full).isDirectory()) return listDist(full, `${prefix}${f}/`);
    return /\.(js|wasm)$/.test(f) ? [`${prefix}${f}`] : [];
  });
}

async function initIn(page: Page, options: Record<string, unknown>) {
  return page.evaluate(
    async (opts: VitrineOptions) => {
      const w = window as unknown as BenchWindow;
      while (!w.Vitrine) await new Promise((r) => setTimeout(r, 2));
      const t0 = performance.now();
      const v = await w.Vitrine.init(opts);
      w.__v = v;
      return { status: v.status, initMs: performance.now() - t0 };
    },
    { model: MODEL, ...options },
  );
}

async function sizes(browser: Browser, base: string) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const requested = new Set<string>();
  page.on('request', (r) => {
    const p = new URL(r.url()).pathname;
    if (p.startsWith('/sdk/')) requested.add(p.slice(5));
  });
  await page.goto(`${base}/e2e/sdk.html`);
  await initIn(page, { backend: 'webgpu', storage: 'memory' });
  await ctx.close();
  const all = listDist();
  const initial = all.filter((f) => requested.has(f) && f.endsWith('.js'));
  const lazy = all.filter((f) => !initial.includes(f) && !f.includes('threaded'));
  const initialGzip = initial.reduce((s, f) => s + gz(join(DIST, f)), 0);
  console.log('\n## Script-tag bundle (gzip -9)\n| file | loaded | raw | gzip |\n|---|---|---|---|');
  for (const f of [...initial, ...lazy]) {
    console.log(`| ${f} | ${initial.includes(f) ? 'initial' : 'lazy'} | ${kb(statSync(join(DIST, f)).size)} | ${kb(gz(join(DIST, f)))} |`);
  }
  console.log(`| **initial total** | | | **${kb(initialGzip)}** (budget 100 KB) |`);
  return { initialGzipBytes: initialGzip, initialFiles: initial, lazy: Object.fromEntries(lazy.map((f) => [f, gz(join(DIST, f))])) };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function latency(browser: Browser, base: string) {
  const out: Record<string, Record<string, { p50: number; p95: number; runs: number }>> = {};
  console.log(
    '\n## rank() latency, ms (validation + features + scoring + policy)\n' +
      '| backend | adapter | n | p50 | p95 | runs |\n|---|---|---|---|---|---|',
  );
  for (const backend of BACKENDS) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${base}/e2e/sdk.html`);
    const { status } = await initIn(page, { backend, storage: 'memory' });
    if (status.backend !== backend) {
      console.log(`| ${backend} | unavailable: ${status.selection?.reason} | | | | |`);
      await ctx.close();
      continue;
    }
    out[backend] = {};
    for (const n of SIZES) {
      // Fast backends get more samples: a 2-core machine is noisy and the median must be stable.
      const fast = backend === 'wasm' || backend === 'cpu';
      const runs = n >= 10000 ? (backend === 'wasm' ? 30 : 8) : fast && n <= 1000 ? 200 : 40;
      const times: number[] = await page.evaluate(
        async ({ n, runs }) => {
          const types = ['Bar', 'Carry out & Take away', 'Coffee House', 'Restaurant(20-50)', 'Restaurant(<20)'];
          const acts = Array.from({ length: n }, (_, i) => ({
            id: `a${i}`,
            type: types[i % 5],
            features: { expiration: i % 2 ? '2h' : '1d' },
          }));
          const context = { destination: 'Home', weather: 'Sunny', temperature: '55', time: '6PM', passanger: 'Alone' };
          const v = (window as unknown as BenchWindow).__v;
          for (let i = 0; i < 3; i++) await v.rank(acts, { context, slots: 5 });
          const ts: number[] = [];
          for (let i = 0; i < runs; i++) {
            const t0 = performance.now();
            await v.rank(acts, { context, slots: 5 });
            ts.push(performance.now() - t0);
          }
          return ts;
        },
        { n, runs },
      );
      out[backend][n] = { p50: +pct(times, 50).toFixed(2), p95: +pct(times, 95).toFixed(2), runs };
      const adapter = backend === 'webgpu' ? `${status.adapter?.architecture} fallback=${status.adapter?.isFallbackAdapter}` : '';
      console.log(`| ${backend} | ${adapter} | ${n} | ${out[backend][n].p50} | ${out[backend][n].p95} | ${runs} |`);
    }
    await ctx.close();
  }
  return out;
}

async function firstRank(browser: Browser, base: string) {
  const out: Record<string, { coldMs: number; cachedMs: number; coldInitMs: number; cachedInitMs: number; backend: string }> = {};
  console.log(
    '\n## Time to first rank, ms since navigation start (init alone in brackets)\n' +
      '| backend option | chosen | cold | cached model |\n|---|---|---|---|',
  );
  for (const backend of ['auto', 'wasm', 'webgpu'] as const) {
    const ctx = await browser.newContext(); // empty HTTP cache, Cache API and IndexedDB
    const page = await ctx.newPage();
    const measure = async () => {
      await page.goto(`${base}/e2e/sdk.html`);
      return page.evaluate(
        async (opts: VitrineOptions) => {
          const w = window as unknown as BenchWindow;
          while (!w.Vitrine) await new Promise((r) => setTimeout(r, 1));
          const t0 = performance.now();
          const v = await w.Vitrine.init(opts);
          await v.rank(
            [
              { id: 'bar-2h', type: 'Bar', features: { expiration: '2h' } },
              { id: 'coffee-house-1d', type: 'Coffee House', features: { expiration: '1d' } },
            ],
            { slots: 1 },
          );
          return { sinceNav: performance.now(), init: performance.now() - t0, backend: v.status.backend };
        },
        { model: MODEL, backend },
      );
    };
    const cold = await measure();
    const cached = await measure();
    out[backend] = {
      coldMs: +cold.sinceNav.toFixed(1),
      cachedMs: +cached.sinceNav.toFixed(1),
      coldInitMs: +cold.init.toFixed(1),
      cachedInitMs: +cached.init.toFixed(1),
      backend: cached.backend,
    };
    const { coldMs, coldInitMs, cachedMs, cachedInitMs } = out[backend];
    console.log(`| ${backend} | ${cached.backend} | ${coldMs} (${coldInitMs}) | ${cachedMs} (${cachedInitMs}) |`);
    await ctx.close();
  }
  return out;
}

const server = await startStaticServer(0);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
try {
  console.log(
    `# Vitrine bench — ${new Date().toISOString()} — ${await browser.version()} headless, ${process.env.BENCH_NOTE ?? 'this machine'}`,
  );
  const size = await sizes(browser, server.url);
  const first = await firstRank(browser, server.url);
  const lat = await latency(browser, server.url);
  const targets = {
    initial_gzip_le_100kb: size.initialGzipBytes <= 100 * 1024,
    wasm_1000_p50_le_5ms: lat.wasm ? lat.wasm[1000].p50 <= 5 : null,
    first_rank_cached_le_300ms: first.auto.cachedMs <= 300,
  };
  console.log(
    '\n## Targets\n' +
      Object.entries(targets)
        .map(([k, v]) => `- ${k}: ${v}`)
        .join('\n'),
  );
  console.log(JSON.stringify({ size, firstRank: first, latency: lat, targets }));
} finally {
  await browser.close();
  await server.close();
}
