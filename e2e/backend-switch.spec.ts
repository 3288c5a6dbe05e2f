// backend: 'auto' ranks on WASM as soon as it is ready and decides about WebGPU in the
// background (issue #13): a race on a software adapter (SwiftShader here), a warm-up and a switch
// for a remembered (or hardware) WebGPU winner. Ranks keep flowing meanwhile.
import type { Decision, VitrineStatus } from '@vitrine/sdk';
import { test, expect, init, CATALOG, type TestWindow } from './fixtures';

const CONTEXT = { destination: 'Home', passanger: 'Alone', weather: 'Sunny', temperature: '55', time: '6PM' };
/** The SDK's model cache (loader.ts MODEL_CACHE) and where a race result is kept in it (select.ts). */
const MODEL_CACHE = 'vitrine-models-v1';
const RACE_URL = 'https://vitrine.invalid/backend-race';

type Page = Parameters<typeof init>[0];

/** Ranks every ~20 ms until `status.selection.pending` is gone; returns each rank's backend and duration. */
function rankWhilePending(page: Page, timeoutMs: number) {
  return page
    .evaluate(
      async ({ c, ctx, timeoutMs }) => {
        const v = (window as unknown as TestWindow).__v;
        const ranks: { backend: string; ms: number }[] = [];
        const end = performance.now() + timeoutMs;
        while (v.status.selection?.pending && performance.now() < end) {
          const t0 = performance.now();
          const d = await v.rank(c, { context: ctx, slots: 3 });
          ranks.push({ backend: d.backend, ms: performance.now() - t0 });
          await new Promise((r) => setTimeout(r, 20));
        }
        return { ranks, status: JSON.parse(JSON.stringify(v.status)) as VitrineStatus };
      },
      { c: CATALOG, ctx: CONTEXT, timeoutMs },
    )
    .then((r) => {
      if (process.env.DEBUG_RANKS)
        console.log(JSON.stringify({ n: r.ranks.length, max: Math.max(...r.ranks.map((x) => x.ms)), s: r.status.selection }));
      return r;
    });
}

const rank = (page: Page) =>
  page.evaluate(({ c, ctx }) => (window as unknown as TestWindow).__v.rank(c, { context: ctx }) as Promise<Decision>, {
    c: CATALOG,
    ctx: CONTEXT,
  });

test('auto on a software adapter ranks on wasm at once, races WebGPU in the background and remembers the winner', async ({ page }) => {
  const status = await init(page, { backend: 'auto', storage: 'memory', epsilon: 0 });
  test.skip(!status.adapter?.isFallbackAdapter, 'this browser has a hardware WebGPU adapter: no race');
  // init resolved before the race: wasm ranks, and the status says a switch may follow.
  expect(status.backend).toBe('wasm');
  expect(status.selection).toMatchObject({ pending: 'webgpu', reason: expect.stringMatching(/ranking on wasm at once; racing webgpu/) });
  expect(status.selection!.timingsMs).toBeUndefined();
  expect((await rank(page)).backend).toBe('wasm');

  const { ranks, status: after } = await rankWhilePending(page, 60_000);
  expect(after.selection!.pending).toBeUndefined();
  // Ranks kept flowing during the race: none waited for WebGPU's shader compilation (seconds on SwiftShader).
  expect(ranks.length).toBeGreaterThan(0);
  expect(Math.max(...ranks.map((r) => r.ms)), JSON.stringify(ranks)).toBeLessThan(400);
  expect(ranks.every((r) => r.backend === 'wasm')).toBe(true);
  const t = after.selection!.timingsMs!;
  expect(t).toMatchObject({ webgpu: expect.any(Number), wasm: expect.any(Number) });
  expect(after.backend).toBe(t.webgpu! <= t.wasm! ? 'webgpu' : 'wasm');
  expect((await rank(page)).backend).toBe(after.backend);

  // The next visit starts on the remembered winner directly.
  const again = await init(page, { backend: 'auto', storage: 'memory' });
  expect(again.selection!.reason).toMatch(/won the warm-up race on an earlier visit/);
  if (after.backend === 'wasm') {
    expect(again.backend).toBe('wasm');
    expect(again.selection!.pending).toBeUndefined();
  }
});

test('a remembered WebGPU winner: wasm ranks first, ranking switches to WebGPU once it is warm, scores agree', async ({ page }) => {
  const first = await init(page, { backend: 'auto', storage: 'memory', epsilon: 0 });
  test.skip(!first.adapter, 'no WebGPU adapter in this browser');
  await rankWhilePending(page, 60_000);
  const a = first.adapter!;
  // Make WebGPU the remembered winner for this adapter and model (SwiftShader would never win it).
  await page.evaluate(
    async ({ cacheName, url, key }) => {
      const cache = await caches.open(cacheName);
      await cache.put(
        `${url}?k=${encodeURIComponent(key)}`,
        new Response(JSON.stringify({ backend: 'webgpu', timingsMs: { webgpu: 1, wasm: 2 } })),
      );
    },
    {
      cacheName: MODEL_CACHE,
      url: RACE_URL,
      key: [a.vendor, a.architecture, a.device, a.description, first.modelVersion].join('|'),
    },
  );

  const status = await init(page, { backend: 'auto', storage: 'memory', epsilon: 0 });
  expect(status.backend).toBe('wasm');
  if (status.adapter!.isFallbackAdapter) {
    expect(status.selection).toMatchObject({
      pending: 'webgpu',
      reason: expect.stringMatching(/webgpu won the warm-up race on an earlier visit; ranking on wasm until webgpu is warm/),
    });
  } else {
    expect(status.selection).toMatchObject({
      pending: 'webgpu',
      reason: expect.stringMatching(/^hardware WebGPU adapter: ranking on wasm/),
    });
  }
  const onWasm = await rank(page);
  expect(onWasm.backend).toBe('wasm');

  const { ranks, status: after } = await rankWhilePending(page, 90_000);
  // WebGPU compiled every batch bucket meanwhile; no rank waited for it.
  expect(Math.max(...ranks.map((r) => r.ms)), JSON.stringify(ranks)).toBeLessThan(400);
  expect(after.backend).toBe('webgpu');
  expect(after.selection).toMatchObject({ switchedFrom: 'wasm', reason: expect.stringMatching(/switched from wasm once/) });
  expect(after.selection!.pending).toBeUndefined();
  const onGpu = await rank(page);
  expect(onGpu.backend).toBe('webgpu');
  const wasmScores = new Map(onWasm.items.map((i) => [i.id, i.score!]));
  for (const item of onGpu.items) expect(Math.abs(item.score! - wasmScores.get(item.id)!)).toBeLessThan(1e-4);
});

test('close() during the background race: no switch, no unhandled rejection, the page keeps working', async ({ page }) => {
  await page.goto('/e2e/sdk.html');
  const result = await page.evaluate(async () => {
    const rejections: string[] = [];
    window.addEventListener('unhandledrejection', (e) => rejections.push(String(e.reason)));
    const w = window as unknown as TestWindow;
    while (!w.Vitrine) await new Promise((r) => setTimeout(r, 5));
    const v = await w.Vitrine.init({ model: '/models/coupons/manifest.json', backend: 'auto', storage: 'memory' });
    const before = JSON.parse(JSON.stringify(v.status)) as VitrineStatus;
    // Let the background work start, then close in the middle of it.
    await new Promise((r) => setTimeout(r, 150));
    v.close();
    await new Promise((r) => setTimeout(r, 5_000));
    const closed = await v.rank([{ id: 'a', type: 'Bar' }]).catch((e: { code?: string }) => e.code);
    return { before, after: JSON.parse(JSON.stringify(v.status)) as VitrineStatus, closed, rejections };
  });
  test.skip(!result.before.selection?.pending, 'no background selection in this browser');
  expect(result.after.backend).toBe(result.before.backend);
  expect(result.after.selection!.pending).toBeUndefined();
  expect(result.after.selection!.reason).toMatch(/\(stopped by close\(\): no switch\)$/);
  expect(result.closed).toBe('closed');
  expect(result.rejections).toEqual([]);
});
