// Smoke test of what ships: the built ESM entry (`@vitrine/sdk` -> dist/index.js), in Node.
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeFetch } from './helpers';

const dist = new URL('../dist/index.js', import.meta.url);
const built = existsSync(dist);
if (!built) console.warn('shipped.test: packages/sdk/dist is missing; run `npm run build` (npm test does) to smoke-test the bundle');

describe.skipIf(!built)('built ESM bundle', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('exports exactly the public API and ranks on the CPU backend', async () => {
    // By file: tests resolve `@vitrine/sdk` to its sources (the `source` condition), this is the build.
    const sdk = (await import(/* @vite-ignore */ dist.href)) as typeof import('@vitrine/sdk');
    expect(Object.keys(sdk).sort()).toEqual(['VitrineError', 'createVitrine', 'version']);
    const manifest = readFileSync(new URL('../../../models/coupons/manifest.json', import.meta.url), 'utf8');
    const path = JSON.parse(manifest).files[0].path;
    const MODEL = 'https://shop.test/m/manifest.json';
    vi.stubGlobal(
      'fetch',
      fakeFetch({
        [MODEL]: manifest,
        [new URL(path, MODEL).href]: new Uint8Array(readFileSync(new URL(`../../../models/coupons/${path}`, import.meta.url))),
      }).fetch,
    );
    const v = await sdk.createVitrine({ model: MODEL, backend: 'cpu', storage: 'memory' });
    expect(v.status.backend).toBe('cpu');
    const d = await v.rank([
      { id: 'a', type: 'Bar' },
      { id: 'b', type: 'Coffee House' },
    ]);
    expect(d.items).toHaveLength(2);
    const err = await v.rank([{ id: 'a' } as never]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(sdk.VitrineError);
    // The build keeps tfjs's engine off the global object.
    expect((globalThis as Record<string, unknown>)._tfGlobals).toBeUndefined();
  });
});
