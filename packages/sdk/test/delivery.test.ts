// Truthful backend reports (a race a contender failed to enter is no result; every failure is a
// warning with its cause), the wasm binary's checks, and a scoring chunk that fails to load.
// `auto` ranks on wasm at once and races in the background (select-background.test.ts has more).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LoadedModel } from '../src/model/loader';
import { selectScorer, type BackgroundEvents, type RaceResult, type SelectionDeps } from '../src/scoring/select';
import type { TfjsScorer } from '../src/scoring/tfjs-scorer';
import { bakedHashes, fetchVerified } from '../src/scoring/backends/wasm';
import { BACKENDS, type AdapterInfo, type BackendName } from '../src/types';

const model = { manifest: { version: 'coupons-test' } } as unknown as LoadedModel;
const OPTIONS = { cacheName: 'test', inputWidth: 42, fallbackOrder: BACKENDS };
const SOFTWARE: AdapterInfo = { vendor: 'google', architecture: 'swiftshader', device: '', description: '', isFallbackAdapter: true };
const SW = 'software WebGPU adapter (isFallbackAdapter)';
const WASM_404 = 'HTTP 404 for https://shop.test/assets/tfjs-backend-wasm-simd.wasm';

function fakeScorer(backend: BackendName): TfjsScorer {
  return {
    backend,
    warmUp: vi.fn(async () => undefined),
    score: vi.fn(async () => new Float32Array(0)),
    dispose: vi.fn(),
  } as unknown as TfjsScorer;
}

/** Runs an `auto` selection's background work now and returns what it reported. */
async function runBackground(s: Awaited<ReturnType<typeof selectScorer>>) {
  const selections: Parameters<BackgroundEvents['onSelection']>[] = [];
  const warnings: string[] = [];
  s.background!.start({ onSelection: (...args) => selections.push(args), onWarning: (w) => warnings.push(w) });
  await s.background!.done;
  return { selections, warnings };
}

/** Selection stand-ins: `broken` backends throw their cause, the others start; race memory in a Map. */
function deps(
  adapter: AdapterInfo | undefined,
  broken: Partial<Record<BackendName, string>>,
  timings: Partial<Record<BackendName, number>> = {},
) {
  const races = new Map<string, RaceResult>();
  const prepared: BackendName[] = [];
  const d: SelectionDeps = {
    describeAdapter: async () => adapter,
    prepare: async (name) => {
      prepared.push(name);
      if (broken[name]) throw new Error(broken[name]);
      return fakeScorer(name);
    },
    schedule: (run) => {
      run();
      return () => undefined;
    },
    time: async (scorer) => timings[scorer.backend] ?? 1,
    readRace: async (key) => races.get(key),
    writeRace: vi.fn(async (key: string, result: RaceResult) => void races.set(key, result)),
    forgetRace: vi.fn(async (key: string) => void races.delete(key)),
  };
  return { d, races, prepared };
}

describe('backend selection reports what ran and why', () => {
  it('auto on a software adapter: wasm failing to enter the race is no result, not remembered, and warned with its cause', async () => {
    const { d, races } = deps(SOFTWARE, { wasm: WASM_404 });
    const s = await selectScorer(model, 'auto', OPTIONS, d);
    expect(s.scorer.backend).toBe('webgpu');
    expect(s.selection.reason).not.toMatch(/faster/);
    expect(s.selection.reason).toContain(`no race, wasm failed (${WASM_404})`);
    expect(s.selection.timingsMs).toEqual({ webgpu: 1 });
    expect(s.warnings).toEqual([`wasm failed: ${WASM_404}`]);
    expect(d.writeRace).not.toHaveBeenCalled();
    expect(races.size).toBe(0);
  });

  it('auto on a software adapter: wasm ranks at once; the background race is remembered and reused', async () => {
    const { d, races } = deps(SOFTWARE, {}, { webgpu: 24, wasm: 0.5 });
    const s = await selectScorer(model, 'auto', OPTIONS, d);
    // Before: the race decided before init resolved. Now wasm ranks first and the race runs in the background.
    expect(s.scorer.backend).toBe('wasm');
    expect(s.selection).toEqual({
      reason: `${SW}: ranking on wasm at once; racing webgpu against it in the background, a switch may follow`,
      pending: 'webgpu',
    });
    expect(races.size).toBe(0);
    const { selections, warnings } = await runBackground(s);
    expect(selections).toEqual([
      [
        'wasm',
        {
          reason: 'software WebGPU adapter (isFallbackAdapter): wasm was faster on a 256-candidate warm-up',
          timingsMs: { webgpu: 24, wasm: 0.5 },
        },
      ],
    ]);
    expect(warnings).toEqual([]);
    expect(s.warnings).toEqual([]);
    expect([...races.values()]).toEqual([{ backend: 'wasm', timingsMs: { webgpu: 24, wasm: 0.5 } }]);
    const again = await selectScorer(model, 'auto', OPTIONS, d);
    expect(again.selection.reason).toMatch(/wasm won the warm-up race on an earlier visit/);
    expect(again.background).toBeUndefined();
  });

  it('a remembered winner that no longer starts is forgotten, reported, and the race runs again', async () => {
    const { d, races } = deps(SOFTWARE, { wasm: WASM_404 });
    const key = 'google|swiftshader|||coupons-test';
    races.set(key, { backend: 'wasm', timingsMs: { webgpu: 24, wasm: 0.5 } });
    const s = await selectScorer(model, 'auto', OPTIONS, d);
    expect(d.forgetRace).toHaveBeenCalledWith(key);
    expect(races.has(key)).toBe(false);
    expect(s.scorer.backend).toBe('webgpu');
    expect(s.selection.reason).not.toMatch(/earlier visit|faster/);
    // wasm was tried once (as the remembered winner); its one failure is reported once.
    expect(s.warnings).toEqual([`wasm failed: ${WASM_404}`]);
  });

  it("backend 'wasm' failing says the real cause, not 'not available in this browser'", async () => {
    const { d } = deps(undefined, { wasm: WASM_404 });
    const s = await selectScorer(model, 'wasm', OPTIONS, d);
    expect(s.scorer.backend).toBe('webgl');
    expect(s.selection.reason).toBe(
      `backend 'wasm' requested but unavailable; fell back to webgl (wasm: ${WASM_404}; webgpu: no WebGPU adapter)`,
    );
    expect(s.warnings).toEqual([`wasm failed: ${WASM_404}`]);
    expect(JSON.stringify(s)).not.toMatch(/not available in this browser/);
  });

  it('auto without WebGPU: each fallback that failed is a warning; the missing adapter is only in the reason', async () => {
    const chunk = 'its chunk could not be loaded (Failed to fetch dynamically imported module: https://cdn.test/chunks/webgl-x.js)';
    const { d, prepared } = deps(undefined, { wasm: WASM_404, webgl: chunk });
    const s = await selectScorer(model, 'auto', OPTIONS, d);
    expect(s.scorer.backend).toBe('cpu');
    expect(s.selection.reason).toBe(`fell back to cpu (webgpu: no WebGPU adapter; wasm: ${WASM_404}; webgl: ${chunk})`);
    expect(s.warnings).toEqual([`wasm failed: ${WASM_404}`, `webgl failed: ${chunk}`]);
    expect(prepared).toEqual(['wasm', 'webgl', 'cpu']);
  });

  it('a background contender whose race batch fails is dropped and reported; wasm stays, nothing is remembered', async () => {
    const { d } = deps(SOFTWARE, {});
    d.time = async (scorer) => {
      if (scorer.backend === 'webgpu') throw new Error('device lost');
      return 2;
    };
    const s = await selectScorer(model, 'auto', OPTIONS, d);
    const { selections, warnings } = await runBackground(s);
    expect(s.scorer.backend).toBe('wasm');
    expect(warnings).toEqual(['webgpu failed: its race batch failed (device lost); ranking stays on wasm']);
    expect(selections.map(([backend, sel]) => [backend, sel.reason])).toEqual([
      ['wasm', `${SW}: webgpu failed in the background (its race batch failed (device lost)); ranking stays on wasm`],
    ]);
    expect(d.writeRace).not.toHaveBeenCalled();
  });

  it('a background race winner that fails its full warm-up is disposed; wasm stays, nothing is remembered', async () => {
    const { d, prepared } = deps(SOFTWARE, {}, { webgpu: 1, wasm: 5 });
    const prepare = d.prepare;
    let gpu: TfjsScorer | undefined;
    d.prepare = async (name, batches) => {
      const scorer = await prepare(name, batches);
      if (name === 'webgpu') {
        scorer.warmUp = vi.fn(async () => Promise.reject(new Error('out of memory at 1024')));
        gpu = scorer;
      }
      return scorer;
    };
    const s = await selectScorer(model, 'auto', OPTIONS, d);
    const { selections, warnings } = await runBackground(s);
    expect(s.scorer.backend).toBe('wasm');
    expect(selections.at(-1)![1].reason).toBe(
      `${SW}: webgpu failed in the background (its warm-up failed (out of memory at 1024)); ranking stays on wasm`,
    );
    expect(warnings).toEqual(['webgpu failed: its warm-up failed (out of memory at 1024); ranking stays on wasm']);
    expect(gpu!.dispose).toHaveBeenCalled();
    expect(d.writeRace).not.toHaveBeenCalled();
    expect(prepared).toEqual(['wasm', 'webgpu']);
  });

  it('nothing starts: the error names every cause', async () => {
    const { d } = deps(undefined, { wasm: WASM_404, webgl: 'no context', cpu: 'broken' });
    await expect(selectScorer(model, 'auto', OPTIONS, d)).rejects.toThrow(
      `no tfjs backend could run the model (webgpu: no WebGPU adapter; wasm: ${WASM_404}; webgl: no context; cpu: broken)`,
    );
  });
});

describe('wasm binary checks', () => {
  const dir = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  const simd = new Uint8Array(readFileSync(join(dir, 'tfjs-backend-wasm-simd.wasm')));
  const sha = createHash('sha256').update(simd).digest('hex');
  const URL_ = 'https://shop.test/sdk/tfjs-backend-wasm-simd.wasm';
  const check = (body: Uint8Array | string, status = 200, expected: string | undefined = sha) =>
    fetchVerified(URL_, 'tfjs-backend-wasm-simd.wasm', expected, {
      fetch: (async () => new Response(typeof body === 'string' ? body : body.slice(), { status })) as typeof fetch,
      subtle: globalThis.crypto.subtle,
    });

  it('accepts the binary whose sha256 the build baked in', async () => {
    expect((await check(simd)).byteLength).toBe(simd.byteLength);
  });

  it('refuses a 404, an HTML fallback page and a tampered binary, each with its cause', async () => {
    await expect(check('not found', 404)).rejects.toThrow(`HTTP 404 for ${URL_}`);
    await expect(check('<!doctype html><html>')).rejects.toThrow(/is not a wasm binary \(starts with 3c21646f\)/);
    const tampered = simd.slice();
    tampered[simd.length >> 1] ^= 0xff;
    await expect(check(tampered)).rejects.toThrow(
      new RegExp(`sha256 [0-9a-f]{64} does not match this SDK build's tfjs-backend-wasm-simd.wasm \\(${sha}\\)`),
    );
  });

  it('names a blocked fetch (CORS, CSP) as such', async () => {
    const blocked = fetchVerified(URL_, 'tfjs-backend-wasm-simd.wasm', sha, {
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as typeof fetch,
      subtle: globalThis.crypto.subtle,
    });
    await expect(blocked).rejects.toThrow(
      `${URL_} could not be fetched (Failed to fetch; blocked by CORS, CSP connect-src or the network?)`,
    );
  });

  it('reads the hashes the build baked in; unbuilt sources have none', () => {
    expect(bakedHashes()).toBeUndefined();
    expect(bakedHashes(JSON.stringify({ 'tfjs-backend-wasm-simd.wasm': sha }))).toEqual({ 'tfjs-backend-wasm-simd.wasm': sha });
  });
});

describe('a scoring chunk that fails to load', () => {
  afterEach(() => {
    vi.doUnmock('../src/scoring/select');
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it('gives a client that ranks in the shop order, with degraded naming the scoring chunk, and a retry', async () => {
    const { fakeFetch } = await import('./helpers');
    const manifest = readFileSync(new URL('../../../models/coupons/manifest.json', import.meta.url), 'utf8');
    const path = JSON.parse(manifest).files[0].path as string;
    const MODEL = 'https://shop.test/m/manifest.json';
    const weights = new Uint8Array(readFileSync(new URL(`../../../models/coupons/${path}`, import.meta.url)));
    vi.stubGlobal('fetch', fakeFetch({ [MODEL]: manifest, [new URL(path, MODEL).href]: weights }).fetch);
    vi.resetModules();
    vi.doMock('../src/scoring/select', () => {
      throw new TypeError('Failed to fetch dynamically imported module: https://cdn.test/sdk/chunks/select-abc123.js');
    });
    const { createVitrine } = await import('../src/index');
    const timers: number[] = [];
    const codes: string[] = [];
    const v = await createVitrine(
      { model: MODEL, storage: 'memory', onError: (e) => codes.push(e.code) },
      { setTimer: (_run, delayMs) => (timers.push(delayMs), () => undefined) },
    );
    const version = JSON.parse(manifest).version as string;
    expect(v.status).toMatchObject({ backend: 'rules', modelVersion: version });
    expect(v.status.degraded).toMatch(
      new RegExp(
        `^scoring_failed: model ${version} verified, but no backend could start: ` +
          `the scoring chunk could not be loaded \\(.+\\); retry 1 of 10 in \\d+ s$`,
        's',
      ),
    );
    expect(timers).toHaveLength(1);
    expect(codes).toEqual(['scoring_failed']);
    const d = await v.rank([
      { id: 'a', type: 'Bar' },
      { id: 'b', type: 'Coffee House' },
    ]);
    expect(d).toMatchObject({ backend: 'rules', items: [{ id: 'a' }, { id: 'b' }] });
    // Chromium's message names the chunk's URL (e2e/delivery.spec.ts); Vitest wraps a failed import in its own words.
    expect(d.degraded).toMatch(/the scoring chunk could not be loaded/);
    v.close();
  });
});
