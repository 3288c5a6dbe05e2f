import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dequantize, halfToFloat, parseManifest } from '@vitrine/core/artifact';
import { loadModel, sha256Hex, type LoaderEnv } from '../src/model/loader';
import { VitrineError } from '../src/errors';
import { InMemoryCacheStorage, fakeFetch } from './helpers';

const manifestJson = JSON.parse(readFileSync(new URL('../../../models/coupons/manifest.json', import.meta.url), 'utf8'));
const weightsPath = manifestJson.files[0].path as string;
const weights = readFileSync(new URL(`../../../models/coupons/${weightsPath}`, import.meta.url));
const BASE = 'https://shop.test/models/coupons/';

function env(files: Record<string, Uint8Array | string>, caches = new InMemoryCacheStorage()) {
  const { fetch, requests } = fakeFetch(files);
  return { fetch, caches: caches as unknown as CacheStorage, subtle: globalThis.crypto.subtle, requests } satisfies LoaderEnv & {
    requests: string[];
  };
}

describe('dequantize', () => {
  it('applies per-channel uint8 affine parameters along the given axis', () => {
    const q = new Uint8Array([0, 255, 10, 20, 255, 0]); // shape [3, 2], channel = column
    const out = dequantize(
      { name: 'k', file: 0, offset: 0, shape: [3, 2], dtype: 'uint8', quant: { axis: 1, scale: [0.1, 2], min: [-1, 5] } },
      q.buffer,
    );
    expect(Array.from(out).map((x) => +x.toFixed(5))).toEqual([-1, 515, 0, 45, 24.5, 5]);
  });

  it('decodes int8 symmetric and float16', () => {
    const i8 = new Int8Array([-128, 0, 127]);
    expect(
      Array.from(dequantize({ name: 'k', file: 0, offset: 0, shape: [3], dtype: 'int8', quant: { scale: [0.5] } }, i8.buffer)),
    ).toEqual([-64, 0, 63.5]);
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x3555)).toBeCloseTo(0.333, 3);
  });

  it('refuses a tensor that runs past the end of its file', () => {
    expect(() => dequantize({ name: 'k', file: 0, offset: 4, shape: [4], dtype: 'float32' }, new ArrayBuffer(16))).toThrow(
      /needs bytes 4\.\.20/,
    );
  });
});

describe('manifest', () => {
  it('accepts the published model', () => {
    expect(parseManifest(manifestJson).version).toMatch(/^coupons-/);
  });
  it('names the first bad field', () => {
    const bad = structuredClone(manifestJson);
    bad.files[0].sha256 = 'xyz';
    expect(() => parseManifest(bad)).toThrow(/manifest\.files\.0\.sha256/);
    const shape = structuredClone(manifestJson);
    shape.tensors[0].shape = [3, 3];
    expect(() => parseManifest(shape)).toThrow(/layers\.0\.kernel shape/);
  });
});

describe('model loader', () => {
  const files = { [`${BASE}manifest.json`]: JSON.stringify(manifestJson), [`${BASE}${weightsPath}`]: new Uint8Array(weights) };

  it('verifies, caches by content hash, and makes no weight request on the next load', async () => {
    const e = env(files);
    const first = await loadModel(`${BASE}manifest.json`, e);
    expect(first.fromCache).toBe(0);
    expect(first.weights.get('layers.0.kernel')!.length).toBe(manifestJson.tensors[0].shape[0] * manifestJson.tensors[0].shape[1]);
    const second = await loadModel(`${BASE}manifest.json`, { ...e, fetch: fakeFetch(files).fetch });
    expect(second.fromCache).toBe(1);
    expect(e.requests.filter((u) => u.endsWith('.bin'))).toHaveLength(1);
  });

  it('refuses a tampered weight file with model_integrity', async () => {
    const tampered = new Uint8Array(weights);
    tampered[100] ^= 0xff;
    const err = await loadModel(`${BASE}manifest.json`, env({ ...files, [`${BASE}${weightsPath}`]: tampered })).catch((e) => e);
    expect(err).toBeInstanceOf(VitrineError);
    expect(err.code).toBe('model_integrity');
    expect(err.message).toMatch(/sha256/);
  });

  it('refuses a truncated file', async () => {
    const err = await loadModel(
      `${BASE}manifest.json`,
      env({ ...files, [`${BASE}${weightsPath}`]: new Uint8Array(weights).slice(0, 50) }),
    ).catch((e) => e);
    expect(err.code).toBe('model_integrity');
    expect(err.message).toMatch(/truncated/);
  });

  it('keeps the previous good version when a new version fails verification', async () => {
    const caches = new InMemoryCacheStorage();
    await loadModel(`${BASE}manifest.json`, env(files, caches));
    const next = structuredClone(manifestJson);
    next.version = 'coupons-next';
    next.files[0].path = 'next/weights.bin';
    const bad = new Uint8Array(weights);
    bad[7] ^= 1;
    const model = await loadModel(
      `${BASE}manifest.json`,
      env({ [`${BASE}manifest.json`]: JSON.stringify(next), [`${BASE}next/weights.bin`]: bad }, caches),
    );
    expect(model.manifest.version).toBe(manifestJson.version);
    expect(model.warning).toMatch(/coupons-next refused/);
  });

  it('re-downloads a cache entry that no longer matches its hash', async () => {
    const caches = new InMemoryCacheStorage();
    const e = env(files, caches);
    await loadModel(`${BASE}manifest.json`, e);
    caches.corruptAll();
    const again = await loadModel(`${BASE}manifest.json`, e);
    expect(again.fromCache).toBe(0);
    expect(await sha256Hex(crypto.subtle, new Uint8Array(weights).buffer)).toBe(manifestJson.files[0].sha256);
  });

  it('reports an unreachable manifest as model_unavailable naming the field', async () => {
    const err = await loadModel(`${BASE}missing.json`, env({})).catch((e) => e);
    expect(err).toMatchObject({ code: 'model_unavailable', field: 'model' });
  });
});
