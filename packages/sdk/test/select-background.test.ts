// `backend: 'auto'`: the client ranks on wasm as soon as it is ready, and background selection
// (a race on a software adapter, WebGPU's warm-up on a hardware one) switches it later, off the
// critical path. Real scorers on tfjs' cpu backend stand in for both contenders (relabelled), so
// scores, tensors and the exclusive() queue are real; the adapter, timings and "webgpu" readiness
// are controlled by the test.
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { engine } from '@tensorflow/tfjs-core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createVitrine, type Activity, type Progress, type VitrineError } from '../src/index';
import type { LoadedModel } from '../src/model/loader';
import { ADAPTER_GRACE_MS, type RaceResult, type SelectedScorer, type SelectionDeps } from '../src/scoring/select';
import { SwitchingScorer } from '../src/scoring/switching-scorer';
import { TfjsScorer } from '../src/scoring/tfjs-scorer';
import '../src/scoring/backends/cpu';
import type { AdapterInfo, BackendName } from '../src/types';
import { fakeFetch } from './helpers';

const control = vi.hoisted(() => ({
  adapter: undefined as AdapterInfo | undefined,
  /** How "webgpu" gets ready: awaited inside prepare('webgpu'). */
  webgpuReady: async (): Promise<void> => undefined,
  timings: {} as Partial<Record<BackendName, number>>,
  races: new Map<string, RaceResult>(),
  scorers: [] as { backend: BackendName; dispose: ReturnType<typeof vi.fn> }[],
  selected: [] as SelectedScorer[],
  /** prepare('webgpu') calls, and whether createVitrine had resolved by then. */
  webgpuPrepared: [] as boolean[],
  initResolved: false,
  /** Awaited when the race winner "webgpu" warms up fully. */
  webgpuFullWarmUp: async (): Promise<void> => undefined,
  fullWarmUps: 0,
  /** describeAdapter() never settles (a hung driver). */
  hangAdapter: false,
}));

vi.mock('../src/scoring/select', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/scoring/select')>();
  return {
    ...actual,
    selectScorer: vi.fn(async (model: LoadedModel, option, options) => {
      const deps: Partial<SelectionDeps> = {
        describeAdapter: () =>
          control.hangAdapter ? new Promise<AdapterInfo | undefined>(() => undefined) : Promise.resolve(control.adapter),
        prepare: async (name, warm, signal) => {
          if (name === 'webgpu') {
            control.webgpuPrepared.push(control.initResolved);
            await control.webgpuReady();
          }
          signal?.throwIfAborted();
          return relabelled(name, model, warm);
        },
        time: async (scorer) => control.timings[scorer.backend] ?? 1,
        readRace: async (key) => control.races.get(key),
        writeRace: async (key, result) => void control.races.set(key, result),
        forgetRace: async (key) => void control.races.delete(key),
        // schedule: the real one (an idle callback, else a timer).
      };
      const selected = await actual.selectScorer(model, option, options, deps);
      control.selected.push(selected);
      return selected;
    }),
  };
});

/** A real scorer on tfjs' cpu backend that reports itself as `name`. */
async function relabelled(name: BackendName, model: LoadedModel, warm?: number[]): Promise<TfjsScorer> {
  const real = new TfjsScorer(model, 'cpu');
  await real.warmUp(warm ?? [32], 42);
  const scorer = {
    backend: name,
    score: (batch: Parameters<TfjsScorer['score']>[0]) => real.score(batch),
    scoreSynthetic: (n: number, width: number) => real.scoreSynthetic(n, width),
    warmUp: async (sizes: number[], width: number, signal?: AbortSignal) => {
      if (name === 'webgpu') {
        control.fullWarmUps++;
        await control.webgpuFullWarmUp();
      }
      return real.warmUp(sizes, width, signal);
    },
    dispose: vi.fn(() => real.dispose()),
  };
  control.scorers.push(scorer);
  return scorer as unknown as TfjsScorer;
}

const manifest = readFileSync(new URL('../../../models/coupons/manifest.json', import.meta.url), 'utf8');
const weightsPath = JSON.parse(manifest).files[0].path as string;
const weights = new Uint8Array(readFileSync(new URL(`../../../models/coupons/${weightsPath}`, import.meta.url)));
const MODEL = 'https://shop.test/models/coupons/manifest.json';
const HARDWARE: AdapterInfo = { vendor: 'nvidia', architecture: 'hopper', device: '', description: '', isFallbackAdapter: false };
const SOFTWARE: AdapterInfo = { vendor: 'google', architecture: 'swiftshader', device: '', description: '', isFallbackAdapter: true };
const catalog: Activity[] = ['Bar', 'Coffee House', 'Restaurant(<20)'].flatMap((type) =>
  ['2h', '1d'].map((e) => ({ id: `${type.toLowerCase().replace(/[^a-z]+/g, '-')}-${e}`, type, features: { expiration: e } })),
);
const context = { destination: 'No Urgent Place', passanger: 'Friend(s)', weather: 'Sunny', temperature: '80', time: '2PM' };

function deferred() {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function client(extra: { onProgress?: (p: Progress) => void; onError?: (e: VitrineError) => void } = {}) {
  control.initResolved = false;
  const v = await createVitrine({ model: MODEL, backend: 'auto', storage: 'memory', epsilon: 0, ...extra });
  control.initResolved = true;
  return v;
}

/** describeAdapter() that never settles, for one client. */
function selectHungAdapter() {
  control.hangAdapter = true;
  return { restore: () => (control.hangAdapter = false) };
}

const scores = (d: { items: { id: string; score: number | null }[] }) => d.items.map((i) => [i.id, i.score]);

beforeEach(() => {
  vi.stubGlobal('fetch', fakeFetch({ [MODEL]: manifest, [new URL(weightsPath, MODEL).href]: weights }).fetch);
  Object.assign(control, {
    adapter: undefined,
    webgpuReady: async () => undefined,
    webgpuFullWarmUp: async () => undefined,
    fullWarmUps: 0,
    timings: {},
    initResolved: false,
  });
  control.races.clear();
  control.scorers.length = 0;
  control.selected.length = 0;
  control.webgpuPrepared.length = 0;
});
afterEach(() => vi.unstubAllGlobals());

describe("backend 'auto' ranks at once and switches in the background", () => {
  it('hardware adapter: the first rank runs on wasm while webgpu warms up; then status and later decisions say webgpu', async () => {
    control.adapter = HARDWARE;
    const warm = deferred();
    control.webgpuReady = () => warm.promise;
    const progress: Progress[] = [];
    const v = await client({ onProgress: (p) => progress.push(p) });
    expect(v.status.backend).toBe('wasm');
    expect(v.status.selection).toEqual({
      reason: 'hardware WebGPU adapter: ranking on wasm until webgpu has compiled its shaders in the background, then switching',
      pending: 'webgpu',
    });
    const first = await v.rank(catalog, { context, slots: 3 });
    expect(first.backend).toBe('wasm');
    // The background work starts only after init resolved (off the critical path) and is still warming up.
    await vi.waitFor(() => expect(control.webgpuPrepared).toEqual([true]));
    expect((await v.rank(catalog, { context, slots: 3 })).backend).toBe('wasm');
    expect(v.status.backend).toBe('wasm');

    warm.resolve();
    await vi.waitFor(() => expect(v.status.backend).toBe('webgpu'));
    expect(v.status.selection).toEqual({
      reason: 'hardware WebGPU adapter: switched from wasm once webgpu was warm',
      switchedFrom: 'wasm',
    });
    expect(progress.at(-1)).toEqual({ stage: 'backend', progress: 1, detail: 'ranking switched from wasm to webgpu' });
    const later = await v.rank(catalog, { context, slots: 3 });
    expect(later.backend).toBe('webgpu');
    expect(scores(later)).toEqual(scores(first));
    // The loser (wasm) is disposed; no race is remembered on a hardware adapter.
    expect(control.scorers.map((s) => [s.backend, s.dispose.mock.calls.length])).toEqual([
      ['wasm', 1],
      ['webgpu', 0],
    ]);
    expect(control.races.size).toBe(0);
    v.close();
  });

  it('software adapter: webgpu winning the background race takes over and is remembered; the next visit says so', async () => {
    control.adapter = SOFTWARE;
    control.timings = { webgpu: 1, wasm: 5 };
    const v = await client();
    expect(v.status.selection).toMatchObject({
      pending: 'webgpu',
      reason: expect.stringMatching(/ranking on wasm at once; racing webgpu/),
    });
    expect((await v.rank(catalog, { context, slots: 2 })).backend).toBe('wasm');
    await vi.waitFor(() => expect(v.status.backend).toBe('webgpu'));
    expect(v.status.selection).toEqual({
      reason: 'software WebGPU adapter (isFallbackAdapter): webgpu was faster on a 256-candidate warm-up; switched from wasm once warm',
      timingsMs: { webgpu: 1, wasm: 5 },
      switchedFrom: 'wasm',
    });
    expect((await v.rank(catalog, { context, slots: 2 })).backend).toBe('webgpu');
    await vi.waitFor(() => expect([...control.races.values()]).toEqual([{ backend: 'webgpu', timingsMs: { webgpu: 1, wasm: 5 } }]));
    v.close();

    const next = await client();
    expect(next.status.backend).toBe('wasm');
    expect(next.status.selection).toMatchObject({
      reason: expect.stringMatching(/webgpu won the warm-up race on an earlier visit; ranking on wasm until webgpu is warm/),
      pending: 'webgpu',
    });
    await vi.waitFor(() => expect(next.status.backend).toBe('webgpu'));
    next.close();
  });

  it('software adapter: wasm winning the race stays, says why, and is remembered; nothing switches', async () => {
    control.adapter = SOFTWARE;
    control.timings = { webgpu: 24, wasm: 0.5 };
    const v = await client();
    await vi.waitFor(() => expect(v.status.selection?.pending).toBeUndefined());
    expect(v.status).toMatchObject({
      backend: 'wasm',
      selection: { reason: 'software WebGPU adapter (isFallbackAdapter): wasm was faster on a 256-candidate warm-up' },
    });
    expect(control.scorers.find((s) => s.backend === 'webgpu')!.dispose).toHaveBeenCalledTimes(1);
    expect((await v.rank(catalog, { context, slots: 2 })).backend).toBe('wasm');
    v.close();
    const next = await client();
    expect(next.status.selection).toEqual({
      reason: 'software WebGPU adapter (isFallbackAdapter): wasm won the warm-up race on an earlier visit',
      timingsMs: { webgpu: 24, wasm: 0.5 },
    });
    expect(control.selected.at(-1)!.background).toBeUndefined();
    next.close();
  });

  it('a background backend that fails leaves ranking on wasm with a warning naming the cause', async () => {
    control.adapter = HARDWARE;
    control.webgpuReady = async () => Promise.reject(new Error('GPU device was lost'));
    const errors: VitrineError[] = [];
    const v = await client({ onError: (e) => errors.push(e) });
    await control.selected[0].background!.done;
    expect(v.status.backend).toBe('wasm');
    expect(v.status.warnings).toEqual(['webgpu failed: GPU device was lost; ranking stays on wasm']);
    expect(v.status.selection).toEqual({
      reason: 'hardware WebGPU adapter: webgpu failed in the background (GPU device was lost); ranking stays on wasm',
    });
    const d = await v.rank(catalog, { context, slots: 3 });
    expect(d.backend).toBe('wasm');
    expect(d.degraded).toBeUndefined();
    expect(errors).toEqual([]); // ranking never degraded: a status warning, not an error
    v.close();
  });

  it('close() during background work: no switch, the background scorer is disposed, no tensor leaks', async () => {
    control.adapter = HARDWARE;
    const warm = deferred();
    control.webgpuReady = () => warm.promise;
    const tensorsBefore = engine().memory().numTensors;
    const v = await client();
    await v.rank(catalog, { context, slots: 3 });
    await vi.waitFor(() => expect(control.webgpuPrepared).toHaveLength(1));
    v.close();
    expect(v.status.selection).toEqual({
      reason: expect.stringMatching(/then switching \(stopped by close\(\): no switch\)$/),
    });
    warm.resolve(); // webgpu gets warm after close
    await control.selected[0].background!.done;
    await new Promise((r) => setTimeout(r, 10));
    expect(v.status.backend).toBe('wasm');
    expect(control.scorers.map((s) => [s.backend, s.dispose.mock.calls.length])).toEqual([['wasm', 1]]);
    expect(engine().memory().numTensors).toBe(tensorsBefore);
    await expect(v.rank(catalog)).rejects.toMatchObject({ code: 'closed' });
  });

  it('close() while the race winner warms up: nothing switches or is remembered, both scorers are disposed, no tensor leaks', async () => {
    control.adapter = SOFTWARE;
    control.timings = { webgpu: 1, wasm: 5 };
    const fullWarmUp = deferred();
    control.webgpuFullWarmUp = () => fullWarmUp.promise;
    const tensorsBefore = engine().memory().numTensors;
    const v = await client();
    await v.rank(catalog, { context, slots: 3 });
    await vi.waitFor(() => expect(control.fullWarmUps).toBe(1));
    v.close();
    fullWarmUp.resolve();
    await control.selected[0].background!.done;
    await new Promise((r) => setTimeout(r, 10));
    expect(v.status.backend).toBe('wasm');
    expect(control.scorers.map((s) => [s.backend, s.dispose.mock.calls.length])).toEqual([
      ['wasm', 1],
      ['webgpu', 1],
    ]);
    expect(control.races.size).toBe(0);
    expect(engine().memory().numTensors).toBe(tensorsBefore);
  });

  it('an adapter request that never answers does not hold the first rank: wasm ranks, with a warning', async () => {
    const hung = selectHungAdapter();
    const started = performance.now();
    const v = await client();
    expect(performance.now() - started).toBeLessThan(ADAPTER_GRACE_MS + 2_000);
    expect(v.status.backend).toBe('wasm');
    expect(v.status.selection?.pending).toBeUndefined();
    expect(v.status.warnings.join('\n')).toMatch(
      new RegExp(`WebGPU adapter request unanswered ${ADAPTER_GRACE_MS} ms after WASM was ready`),
    );
    expect((await v.rank(catalog, { context, slots: 2 })).backend).toBe('wasm');
    expect(control.webgpuPrepared).toHaveLength(0);
    hung.restore();
    v.close();
  });

  it('forget() during the race: the race is not remembered, ranking stays on wasm and keeps working', async () => {
    control.adapter = SOFTWARE;
    control.timings = { webgpu: 1, wasm: 5 };
    const warm = deferred();
    control.webgpuReady = () => warm.promise;
    const v = await client();
    await vi.waitFor(() => expect(control.webgpuPrepared).toHaveLength(1));
    await v.forget();
    warm.resolve();
    await control.selected[0].background!.done;
    expect(control.races.size).toBe(0);
    expect(v.status.backend).toBe('wasm');
    expect(v.status.selection?.pending).toBeUndefined();
    expect(v.status.selection?.reason).toMatch(/\(stopped by forget\(\): no switch\)$/);
    expect((await v.rank(catalog, { context, slots: 2 })).backend).toBe('wasm');
    v.close();
  });
});

describe('SwitchingScorer', () => {
  const fake = (backend: BackendName) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    return { backend, gate, release, score: vi.fn(async () => (await gate, new Float32Array([0.5]))), dispose: vi.fn() };
  };
  const batch = {} as Parameters<TfjsScorer['score']>[0];

  it('switches only after every score in flight returned and its caller read the backend', async () => {
    const wasm = fake('wasm');
    const gpu = fake('webgpu');
    gpu.release();
    const s = new SwitchingScorer(wasm);
    const seen: string[] = [];
    const inFlight = s.score(batch).then(() => seen.push(`scored, backend reads ${s.backend}`));
    const switched = s.switchTo(gpu, (from) => seen.push(`switched from ${from}`));
    await new Promise((r) => setTimeout(r, 5));
    expect(s.backend).toBe('wasm'); // still scoring on wasm
    wasm.release();
    await inFlight;
    expect(await switched).toBe(true);
    expect(seen).toEqual(['scored, backend reads wasm', 'switched from wasm']);
    expect(wasm.dispose).toHaveBeenCalledTimes(1);
    await s.score(batch);
    expect(gpu.score).toHaveBeenCalledTimes(1);
  });

  it('an aborted signal (forget) before a pending switch: no switch, the newcomer is disposed, the client scorer stays', async () => {
    const wasm = fake('wasm');
    const gpu = fake('webgpu');
    wasm.release();
    const s = new SwitchingScorer(wasm);
    const release = s.hold(); // a rank in flight when forget() cancels the background work
    const abort = new AbortController();
    const switched = s.switchTo(gpu, () => expect.unreachable('no switch after the abort'), abort.signal);
    abort.abort();
    release();
    expect(await switched).toBe(false);
    expect(gpu.dispose).toHaveBeenCalledTimes(1);
    expect(wasm.dispose).not.toHaveBeenCalled();
    expect(s.backend).toBe('wasm');
    await s.score(batch);
    expect(wasm.score).toHaveBeenCalledTimes(1);
  });

  it('dispose() before a pending switch: the newcomer is disposed and never scores', async () => {
    const wasm = fake('wasm');
    const gpu = fake('webgpu');
    const s = new SwitchingScorer(wasm);
    const release = s.hold(); // a rank spread over several score() calls
    const switched = s.switchTo(gpu, () => expect.unreachable('no switch after dispose'));
    s.dispose();
    release();
    expect(await switched).toBe(false);
    expect(gpu.dispose).toHaveBeenCalledTimes(1);
    expect(wasm.dispose).toHaveBeenCalledTimes(1);
    expect(s.backend).toBe('wasm');
  });
});
