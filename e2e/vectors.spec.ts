// The shared test vectors, checked through the SDK's public API in Chromium, on each backend.
import { test, expect, init, type TestWindow } from './fixtures';

for (const backend of ['wasm', 'webgpu', 'cpu']) {
  test(`shared test vectors: features and scores match on ${backend}`, async ({ page }) => {
    const status = await init(page, { backend, storage: 'memory', epsilon: 0 });
    expect(status.backend).toBe(backend);
    const results = await page.evaluate(async () => {
      const vectors = await (await fetch('/models/coupons/test-vectors.json')).json();
      const v = (window as unknown as TestWindow).__v;
      const out = [];
      for (const c of vectors.cases) {
        await v.forget();
        await v.setUser(c.user);
        for (const h of c.history) {
          const d = await v.rank([h.activity], { context: h.context ?? {} });
          await v.track(d.id, h.activity.id, h.outcome);
        }
        const d = await v.rank([c.activity], { context: c.context, includeFeatures: true });
        const item = d.items[0];
        const features = item.features!;
        const maxFeatureDiff = Math.max(...c.features.map((x: number, i: number) => Math.abs(x - features[i])));
        out.push({
          name: c.name,
          modelVersion: d.modelVersion,
          expectedVersion: vectors.modelVersion,
          maxFeatureDiff,
          scoreDiff: Math.abs(item.score! - c.score),
          n: features.length,
          expectedN: c.features.length,
        });
      }
      return out;
    });
    expect(results.length).toBeGreaterThanOrEqual(20);
    for (const r of results) {
      expect(r.modelVersion).toBe(r.expectedVersion);
      expect(r.n, r.name).toBe(r.expectedN);
      expect(r.maxFeatureDiff, r.name).toBeLessThan(1e-6);
      expect(r.scoreDiff, r.name).toBeLessThan(1e-4);
    }
  });
}
