import { test, expect, init, CATALOG, MODEL, type TestWindow } from './fixtures';

const CONTEXT = { destination: 'Home', passanger: 'Alone', weather: 'Sunny', temperature: '55', time: '6PM' };

test('forced webgpu reports and uses webgpu, with the adapter it really got', async ({ page }) => {
  const status = await init(page, { backend: 'webgpu', storage: 'memory' });
  expect(status.backend).toBe('webgpu');
  expect(status.adapter).toMatchObject({ isFallbackAdapter: expect.any(Boolean), vendor: expect.any(String) });
  expect(status.selection!.reason).toBe("backend 'webgpu' requested");
  const d = await page.evaluate(({ c, ctx }) => (window as unknown as TestWindow).__v.rank(c, { context: ctx }), {
    c: CATALOG,
    ctx: CONTEXT,
  });
  expect(d.backend).toBe('webgpu');
  expect(d.items).toHaveLength(10);
  expect(d.items.every((i) => i.score! > 0 && i.score! < 1)).toBe(true);
});

test('auto on a software adapter races WebGPU against WASM and reports the timings', async ({ page }) => {
  const started = await init(page, { backend: 'auto', storage: 'memory' });
  test.skip(!started.adapter?.isFallbackAdapter, 'this browser has a hardware WebGPU adapter: no race');
  // The race runs in the background while wasm ranks (e2e/backend-switch.spec.ts has the details).
  expect(started).toMatchObject({ backend: 'wasm', selection: { pending: 'webgpu' } });
  const current = () => page.evaluate(() => (window as unknown as TestWindow).__v.status);
  await expect.poll(async () => (await current()).selection?.pending ?? null, { timeout: 60_000 }).toBeNull();
  const status = await current();
  expect(['webgpu', 'wasm']).toContain(status.backend);
  expect(status.selection!.timingsMs).toMatchObject({ webgpu: expect.any(Number), wasm: expect.any(Number) });
  const t = status.selection!.timingsMs!;
  expect(status.backend).toBe(t.webgpu! <= t.wasm! ? 'webgpu' : 'wasm');
  // The next visit reuses the race result instead of compiling WebGPU shaders again.
  const again = await init(page, { backend: 'auto', storage: 'memory' });
  expect(again.backend).toBe(status.backend);
  expect(again.selection!.reason).toMatch(/earlier visit/);
});

test('all backends return the same scores within 1e-4', async ({ page }) => {
  const candidates = Array.from({ length: 300 }, (_, i) => ({ ...CATALOG[i % 10], id: `c${i}` }));
  const contexts = [CONTEXT, { destination: 'Work', weather: 'Snowy', temperature: '30', time: '7AM', toCoupon_GEQ15min: 1 }];
  const scores: Record<string, number[]> = {};
  for (const backend of ['cpu', 'wasm', 'webgl', 'webgpu']) {
    const status = await init(page, { backend, storage: 'memory', epsilon: 0, user: { age: '26', has_children: '0' } });
    expect(status.backend, `${backend}: ${status.selection?.reason}`).toBe(backend);
    scores[backend] = await page.evaluate(
      async ({ cands, ctxs }) => {
        const out: number[] = [];
        for (const ctx of ctxs) {
          const d = await (window as unknown as TestWindow).__v.rank(cands, { context: ctx });
          const byId = new Map(d.items.map((i) => [i.id, i.score]));
          out.push(...cands.map((c) => byId.get(c.id) as number));
        }
        return out;
      },
      { cands: candidates, ctxs: contexts },
    );
  }
  for (const backend of ['wasm', 'webgl', 'webgpu']) {
    const maxDiff = Math.max(...scores[backend].map((s, i) => Math.abs(s - scores.cpu[i])));
    expect(maxDiff, backend).toBeLessThan(1e-4);
  }
});

test('the profile survives a reload and forget() leaves nothing in IndexedDB or caches', async ({ page }) => {
  const status = await init(page, { backend: 'wasm' });
  expect(status.profile).toBe('indexeddb');
  await page.evaluate(
    async ({ c, ctx }) => {
      const v = (window as unknown as TestWindow).__v;
      const d = await v.rank(c, { context: ctx });
      await v.track(d.id, 'bar-2h', 'dismiss');
      await v.track(d.id, 'coffee-house-1d', 'click');
    },
    { c: CATALOG, ctx: CONTEXT },
  );
  await init(page, { backend: 'wasm' }); // reload
  const exported = await page.evaluate(() => (window as unknown as TestWindow).__v.exportProfile());
  expect(exported.storage).toBe('indexeddb');
  expect(exported.events.map((e) => [e.activityId, e.outcome])).toEqual([
    ['bar-2h', 'dismiss'],
    ['coffee-house-1d', 'click'],
  ]);
  expect(exported.events[0].hour % 3_600_000).toBe(0); // coarse time only
  expect(exported.aggregates.byType['Coffee House'].positives).toBe(1);

  const left = await page.evaluate(async () => {
    await (window as unknown as TestWindow).__v.forget();
    const dbs = (await indexedDB.databases()).map((d) => d.name);
    return { dbs, caches: await caches.keys(), profile: await (window as unknown as TestWindow).__v.exportProfile() };
  });
  expect(left.dbs).not.toContain('vitrine');
  expect(left.caches).toEqual([]);
  expect(left.profile.events).toEqual([]);
});

test('a cached model makes no weight request on the next visit', async ({ page }) => {
  const weightRequests: string[] = [];
  page.on('request', (r) => {
    if (r.url().endsWith('.bin')) weightRequests.push(r.url());
  });
  await init(page, { backend: 'wasm', storage: 'memory' });
  expect(weightRequests).toHaveLength(1);
  await init(page, { backend: 'wasm', storage: 'memory' });
  expect(weightRequests).toHaveLength(1);
});

test('with indexedDB throwing, the page still ranks, reports memory and shows no error', async ({ page }) => {
  await page.addInitScript(() => {
    Object.defineProperty(window, 'indexedDB', {
      get() {
        throw new DOMException('The user denied permission to access the database.', 'SecurityError');
      },
    });
  });
  const status = await init(page, { backend: 'wasm' });
  expect(status.profile).toBe('memory');
  expect(status.warnings.join(' ')).toMatch(/IndexedDB unavailable/);
  const d = await page.evaluate(async (c) => {
    const v = (window as unknown as TestWindow).__v;
    const d = await v.rank(c, { slots: 3 });
    await v.track(d.id, d.items[0].id, 'click');
    return d;
  }, CATALOG);
  expect(d.backend).toBe('wasm');
  expect(d.items).toHaveLength(3);
});

test('a tampered weight file is refused and the page degrades to the shop order', async ({ page }) => {
  await page.route('**/*.bin', async (route) => {
    const res = await route.fetch();
    const body = Buffer.from(await res.body());
    body[body.length - 1] ^= 0xff;
    await route.fulfill({ response: res, body });
  });
  const status = await init(page, { backend: 'wasm', storage: 'memory' });
  expect(status.degraded).toMatch(/model_integrity.*sha256/);
  expect(status.backend).toBe('rules');
  const d = await page.evaluate((c) => (window as unknown as TestWindow).__v.rank(c, { slots: 3 }), CATALOG);
  expect(d.backend).toBe('rules');
  expect(d.items.map((i) => i.id)).toEqual(CATALOG.slice(0, 3).map((a) => a.id));
  expect(d.degraded).toMatch(/model_integrity/);
});

test('a model the server could not serve at first is loaded by a later retry, without a reload', async ({ page }) => {
  // A server that is starting: 502 for the first two manifest requests, then the real file.
  let manifestRequests = 0;
  await page.route('**/models/coupons/manifest.json', (route) => {
    manifestRequests += 1;
    return manifestRequests <= 2 ? route.fulfill({ status: 502, body: 'starting' }) : route.continue();
  });
  const status = await init(page, { backend: 'wasm', storage: 'memory' });
  expect(status.backend).toBe('rules');
  expect(status.degraded).toMatch(/^model_unavailable: .*HTTP 502.*; retry 1 of 10 in [12] s$/);
  const before = await page.evaluate((c) => (window as unknown as TestWindow).__v.rank(c, { slots: 3 }), CATALOG);
  expect(before.backend).toBe('rules');
  expect(before.items.map((i) => i.id)).toEqual(CATALOG.slice(0, 3).map((a) => a.id));
  // Retries after 1-2 s, then 2-4 s (jittered); the second one gets the model.
  await expect.poll(() => page.evaluate(() => (window as unknown as TestWindow).__v.status.backend), { timeout: 30_000 }).toBe('wasm');
  const after = await page.evaluate(
    async ({ c, ctx }) => {
      const v = (window as unknown as TestWindow).__v;
      return { status: v.status, decision: await v.rank(c, { context: ctx, slots: 3 }) };
    },
    { c: CATALOG, ctx: CONTEXT },
  );
  expect(after.status.degraded).toBeUndefined();
  expect(after.status.modelVersion).toMatch(/^coupons-/);
  expect(after.decision.backend).toBe('wasm');
  expect(after.decision.modelVersion).toBe(after.status.modelVersion);
  expect(after.decision.items.every((i) => i.score! > 0 && i.score! < 1 && i.reasons[0].code === 'model')).toBe(true);
  expect(manifestRequests).toBe(3);
});

test('a tampered update keeps the previous good version from the cache', async ({ page }) => {
  await init(page, { backend: 'wasm', storage: 'memory' }); // caches the good version
  const good = await page.evaluate(async (url) => await (await fetch(url)).json(), MODEL);
  await page.route('**/models/coupons/manifest.json', (route) =>
    route.fulfill({
      contentType: 'application/json',
      body: JSON.stringify({ ...good, version: 'coupons-evil', files: [{ ...good.files[0], path: 'evil/weights.bin' }] }),
    }),
  );
  await page.route('**/evil/weights.bin', (route) => route.fulfill({ body: Buffer.alloc(good.files[0].bytes, 7) }));
  const status = await init(page, { backend: 'wasm', storage: 'memory' });
  expect(status.degraded).toBeUndefined();
  expect(status.modelVersion).toBe(good.version);
  expect(status.warnings.join(' ')).toMatch(/coupons-evil refused/);
});

test('bad rank input gets a clear VitrineError and nothing is thrown into the page', async ({ page }) => {
  await init(page, { backend: 'wasm', storage: 'memory' });
  const errors = await page.evaluate(async () => {
    const v = (window as unknown as TestWindow).__v;
    const grab = (p: Promise<unknown>) =>
      p.then(
        () => null,
        (e) => ({ name: e.name, code: e.code, field: e.field, message: e.message }),
      );
    const out = [
      await grab(v.rank([{ id: 'a' } as never])),
      await grab(v.rank('not an array' as never)),
      await grab(v.rank([{ id: 'a', type: 'Bar' }], { slots: -1 })),
      await grab(v.track('no-such-decision', 'a', 'click')),
    ];
    v.track('fire-and-forget', 'a', 'click'); // not awaited: must not become an unhandled rejection
    await new Promise((r) => setTimeout(r, 50));
    return out;
  });
  expect(errors[0]).toMatchObject({ name: 'VitrineError', code: 'invalid_input', field: 'activities[0].type' });
  expect(errors[0]!.message).toContain('activities[0].type');
  expect(errors[1]).toMatchObject({ code: 'invalid_input', field: 'activities' });
  expect(errors[2]).toMatchObject({ code: 'invalid_input', field: 'options.slots' });
  expect(errors[3]).toMatchObject({ code: 'unknown_decision', field: 'decisionId' });
});

test('the script tag adds only Vitrine (and the queue) to window, and drains the pre-load queue', async ({ page }) => {
  await page.goto('/e2e/blank.html');
  const baseline: string[] = await page.evaluate(() => Object.getOwnPropertyNames(window));
  await page.goto('/e2e/script-tag.html');
  await expect(page.locator('#out')).toContainText('"backend"');
  const out = JSON.parse((await page.locator('#out').textContent()) ?? '{}');
  expect(['webgpu', 'wasm']).toContain(out.backend);
  // Force the lazily loaded backends too, then look for anything new on window.
  await page.evaluate(async (model) => {
    for (const backend of ['wasm', 'webgl', 'cpu'] as const)
      await (window as unknown as TestWindow).Vitrine.init({ model, backend, storage: 'memory' });
  }, MODEL);
  const added = await page.evaluate((base) => Object.getOwnPropertyNames(window).filter((k) => !base.includes(k)), baseline);
  expect(added.sort()).toEqual(['Vitrine', 'vitrineQueue']);
});

test('the initial script loads no fallback backend when WebGPU is forced', async ({ page }) => {
  const urls: string[] = [];
  page.on('request', (r) => urls.push(new URL(r.url()).pathname));
  await init(page, { backend: 'webgpu', storage: 'memory' });
  expect(urls.filter((u) => /\/(wasm|webgl|cpu)-[^/]+\.js$|\.wasm$/.test(u))).toEqual([]);
  expect(urls.some((u) => u.endsWith('/sdk/index.js'))).toBe(true);
});

test('another tab upgrading the database is not blocked, and this page keeps working', async ({ page }) => {
  await init(page, { backend: 'wasm' });
  const result = await page.evaluate(async (c) => {
    const v = (window as unknown as TestWindow).__v;
    const d = await v.rank(c);
    await v.track(d.id, d.items[0].id, 'click');
    // What a newer SDK in another tab does: open the same database at a higher version.
    const upgraded = await new Promise<string>((resolve) => {
      const req = indexedDB.open('vitrine', 2);
      req.onblocked = () => resolve('blocked');
      req.onsuccess = () => {
        req.result.close();
        resolve('upgraded');
      };
      req.onerror = () => resolve(`error ${req.error?.name}`);
      setTimeout(() => resolve('timeout'), 3000);
    });
    const d2 = await v.rank(c);
    await v.track(d2.id, d2.items[0].id, 'dismiss');
    return { upgraded, backend: d2.backend, status: v.status };
  }, CATALOG);
  expect(result.upgraded).toBe('upgraded');
  expect(result.backend).toBe('wasm');
  // Our v1 connection stepped aside; the old page keeps its profile in memory and says so.
  expect(result.status.profile).toBe('memory');
  expect(result.status.warnings.join(' ')).toMatch(/profile storage failed/);
});
