import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { createVitrine, VitrineError, type Activity } from '../src/index';
import { IdbProfileStore } from '../src/profile/idb-store';
import { fakeFetch } from './helpers';
import { selectScorer } from '../src/scoring/select';

// The real backend selection, wrapped so a test can make one call fail (no backend could start).
vi.mock('../src/scoring/select', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/scoring/select')>();
  return { ...actual, selectScorer: vi.fn(actual.selectScorer) };
});

const manifest = readFileSync(new URL('../../../models/coupons/manifest.json', import.meta.url), 'utf8');
const weightsPath = JSON.parse(manifest).files[0].path as string;
const weights = new Uint8Array(readFileSync(new URL(`../../../models/coupons/${weightsPath}`, import.meta.url)));
const MODEL = 'https://shop.test/models/coupons/manifest.json';

const catalog: Activity[] = ['Bar', 'Coffee House', 'Restaurant(<20)'].flatMap((type) =>
  ['2h', '1d'].map((e) => ({ id: `${type.toLowerCase().replace(/[^a-z]+/g, '-')}-${e}`, type, features: { expiration: e } })),
);
const context = { destination: 'No Urgent Place', passanger: 'Friend(s)', weather: 'Sunny', temperature: '80', time: '2PM' };

beforeEach(() => {
  vi.stubGlobal('fetch', fakeFetch({ [MODEL]: manifest, [new URL(weightsPath, MODEL).href]: weights }).fetch);
});
afterEach(() => vi.unstubAllGlobals());

describe('model load retry', () => {
  interface FakeTimer {
    run: () => void;
    delayMs: number;
    cancelled: boolean;
  }
  /** Retry timers the test fires by hand. */
  function timers() {
    const list: FakeTimer[] = [];
    const setTimer = (run: () => void, delayMs: number) => {
      const timer = { run, delayMs, cancelled: false };
      list.push(timer);
      return () => {
        timer.cancelled = true;
      };
    };
    return { list, setTimer };
  }
  /** The model files, with the first `failures` requests for `url` answered by `answer`. */
  function flakyFetch(url: string, failures: number, answer: () => Response) {
    const files = fakeFetch({ [MODEL]: manifest, [new URL(weightsPath, MODEL).href]: weights });
    let left = failures;
    const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
      if (String(input) === url && left > 0) {
        left -= 1;
        return answer();
      }
      return files.fetch(input, init);
    }) as typeof fetch;
    return { fetch: fetchImpl, requests: files.requests };
  }
  /** A retry loads the model, verifies it and warms up the backend: allow for a slow machine. */
  const LOADING = { timeout: 15_000 };
  const options = (errors: VitrineError[] = []) =>
    ({ model: MODEL, backend: 'cpu', storage: 'memory', random: () => 0.5, onError: (e: VitrineError) => errors.push(e) }) as const;

  it('retries with jittered exponential backoff and ranks with the model once a retry loads it', async () => {
    vi.stubGlobal('fetch', flakyFetch(MODEL, 2, () => new Response('starting', { status: 502 })).fetch);
    const { list, setTimer } = timers();
    const errors: VitrineError[] = [];
    const stages: string[] = [];
    const v = await createVitrine({ ...options(errors), onProgress: (p) => stages.push(p.stage) }, { setTimer });
    expect(stages.at(-1)).toBe('ready'); // the client is usable (on the shop's order) from here
    stages.length = 0;
    expect(v.status).toMatchObject({ ready: true, backend: 'rules' });
    // 2 s x jitter (0.5 + 0.5 x random() = 0.75 here) = 1.5 s.
    expect(v.status.degraded).toMatch(/^model_unavailable: .*HTTP 502.*; retry 1 of 10 in 2 s$/);
    expect(list.map((t) => t.delayMs)).toEqual([1_500]);
    expect((await v.rank(catalog, { slots: 2 })).backend).toBe('rules');

    list[0].run(); // the server still answers 502
    await vi.waitFor(() => expect(list).toHaveLength(2), LOADING);
    expect(list[1].delayMs).toBe(3_000);
    expect(v.status.degraded).toMatch(/; retry 2 of 10 in 3 s$/);

    list[1].run(); // now it serves the model
    await vi.waitFor(() => expect(v.status.backend).toBe('cpu'), LOADING);
    // The page hears that the model is in use (a shop re-ranks on it), once.
    await vi.waitFor(() => expect(stages.at(-1)).toBe('ready'), LOADING);
    expect(stages.filter((s) => s === 'ready')).toHaveLength(1);
    expect(stages).toContain('manifest');
    expect(v.status.degraded).toBeUndefined();
    expect(v.status).toMatchObject({
      ready: true,
      modelVersion: JSON.parse(manifest).version,
      selection: { reason: "backend 'cpu' requested" },
    });
    const d = await v.rank(catalog, { context, slots: 3 });
    expect(d.backend).toBe('cpu');
    expect(d.degraded).toBeUndefined();
    expect(d.items.every((i) => i.score! > 0 && i.reasons[0].code === 'model')).toBe(true);
    await expect(v.track(d.id, d.items[0].id, 'click')).resolves.toBeUndefined();
    expect(list).toHaveLength(2);
    expect(errors.map((e) => e.code)).toEqual(['model_unavailable', 'model_unavailable']);
    v.close();
  });

  it('keeps a verified model when no backend starts, and the retry starts only a backend', async () => {
    vi.mocked(selectScorer).mockRejectedValueOnce(new Error('no backend could be initialised'));
    const { fetch, requests } = flakyFetch(MODEL, 0, () => new Response());
    vi.stubGlobal('fetch', fetch);
    const { list, setTimer } = timers();
    const errors: VitrineError[] = [];
    const v = await createVitrine(options(errors), { setTimer });
    const version = JSON.parse(manifest).version;
    expect(v.status).toMatchObject({ backend: 'rules', modelVersion: version });
    expect(v.status.degraded).toMatch(
      /^scoring_failed: model \S+ verified, but no backend could start: no backend could be initialised; retry 1 of 10/,
    );
    expect(errors.map((e) => e.code)).toEqual(['scoring_failed']);
    const shopOrder = await v.rank(catalog, { slots: 2 });
    expect(shopOrder).toMatchObject({ backend: 'rules', modelVersion: version });
    const downloads = requests.length;
    list[0].run();
    await vi.waitFor(() => expect(v.status.backend).toBe('cpu'), LOADING);
    expect(v.status.degraded).toBeUndefined();
    expect(requests.length).toBe(downloads); // the verified model was not fetched again
    v.close();
  });

  it('retries a model that failed its integrity check (the next download may be clean)', async () => {
    const tampered = weights.slice();
    tampered[100] ^= 0xff;
    vi.stubGlobal('fetch', flakyFetch(new URL(weightsPath, MODEL).href, 1, () => new Response(tampered.slice())).fetch);
    const { list, setTimer } = timers();
    const v = await createVitrine(options(), { setTimer });
    expect(v.status.degraded).toMatch(/^model_integrity: .*sha256.*; retry 1 of 10 in 2 s$/);
    list[0].run();
    await vi.waitFor(() => expect(v.status.backend).toBe('cpu'), LOADING);
    expect(v.status.degraded).toBeUndefined();
    v.close();
  });

  it('gives up after 10 retries per page, never rejecting into the page', async () => {
    vi.stubGlobal('fetch', flakyFetch(MODEL, Infinity, () => new Response('down', { status: 503 })).fetch);
    const { list, setTimer } = timers();
    const v = await createVitrine(options(), { setTimer });
    for (let k = 0; k < 10; k++) {
      list[k].run();
      await vi.waitFor(() => expect(v.status.degraded).not.toContain(`retry ${k + 1} of`));
    }
    expect(list).toHaveLength(10);
    // 2 s doubling, capped at 5 min, x 0.75 jitter here.
    expect(list.map((t) => t.delayMs)).toEqual([1_500, 3_000, 6_000, 12_000, 24_000, 48_000, 96_000, 192_000, 225_000, 225_000]);
    expect(v.status.degraded).toMatch(/^model_unavailable: .*HTTP 503 for \S+$/); // nothing scheduled any more
    expect((await v.rank(catalog, { slots: 1 })).backend).toBe('rules');
    v.close();
  });

  it('close() and forget() cancel the scheduled retry', async () => {
    vi.stubGlobal('fetch', flakyFetch(MODEL, Infinity, () => new Response('down', { status: 503 })).fetch);
    const closing = timers();
    const a = await createVitrine(options(), { setTimer: closing.setTimer });
    a.close();
    expect(closing.list.map((t) => t.cancelled)).toEqual([true]);

    const forgetting = timers();
    const b = await createVitrine(options(), { setTimer: forgetting.setTimer });
    expect(b.status.degraded).toMatch(/retry 1 of 10/);
    await b.forget();
    expect(forgetting.list.map((t) => t.cancelled)).toEqual([true]);
    // The status no longer promises a retry, and the instance keeps working on the shop's order.
    expect(b.status.degraded).toMatch(/^model_unavailable: .*HTTP 503 for \S+$/);
    expect((await b.rank(catalog, { slots: 1 })).backend).toBe('rules');
    b.close();
  });
});

describe('createVitrine (Node, cpu backend, memory profile)', () => {
  it('ranks with the model, stamps the decision and logs propensities', async () => {
    const v = await createVitrine({ model: MODEL, backend: 'cpu', storage: 'memory', epsilon: 0.1, random: () => 0.99 });
    expect(v.status).toMatchObject({ ready: true, backend: 'cpu', profile: 'memory', modelVersion: JSON.parse(manifest).version });
    const d = await v.rank(catalog, { context, slots: 3 });
    expect(d.items).toHaveLength(3);
    expect(d.backend).toBe('cpu');
    expect(d.policy).toMatchObject({ epsilon: 0.1, explored: false });
    const scores = d.items.map((i) => i.score!);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    for (const item of d.items) {
      expect(item.score).toBeGreaterThan(0);
      expect(item.score).toBeLessThan(1);
      expect(item.propensity).toBeCloseTo(0.9 + 0.1 / catalog.length, 10);
      expect(item.reasons[0].code).toBe('model');
    }
    v.close();
  });

  it('learns from track(): declining a type lowers its score', async () => {
    const v = await createVitrine({ model: MODEL, backend: 'cpu', storage: 'memory', epsilon: 0 });
    const before = await v.rank(catalog, { context });
    const bar = before.items.find((i) => i.id === 'bar-1d')!;
    for (let k = 0; k < 4; k++) {
      const d = await v.rank(catalog, { context });
      await v.track(d.id, 'bar-1d', 'dismiss');
      await v.track(d.id, 'bar-2h', 'dismiss');
    }
    const after = await v.rank(catalog, { context });
    expect(after.items.find((i) => i.id === 'bar-1d')!.score!).toBeLessThan(bar.score!);
    const exported = await v.exportProfile();
    expect(exported.events).toHaveLength(8);
    expect(exported.aggregates.byType.Bar.negatives).toBe(8);
    expect(after.items.find((i) => i.id === 'bar-1d')!.reasons.some((r) => r.code === 'profile')).toBe(true);
    v.close();
  });

  it('remembers a bounded number of placements for track(), oldest decisions first out', async () => {
    const v = await createVitrine({ model: MODEL, backend: 'cpu', storage: 'memory' });
    const many = Array.from({ length: 2_000 }, (_, i) => ({ id: `p${i}`, type: 'Bar', features: { expiration: '2h' } }));
    const first = await v.rank(many);
    let last = first;
    for (let k = 0; k < 10; k++) last = await v.rank(many); // 22,000 placements > 20,000 kept
    expect((await v.track(first.id, 'p0', 'click').catch((e) => e)).code).toBe('unknown_decision');
    await expect(v.track(last.id, 'p1', 'click')).resolves.toBeUndefined();
    v.close();
  });

  it('drops activities outside their eligibility window', async () => {
    const v = await createVitrine({ model: MODEL, backend: 'cpu', storage: 'memory' });
    const acts = [{ ...catalog[0], endsAt: '2020-01-01T00:00:00Z' }, catalog[1], { ...catalog[2], startsAt: Date.now() + 3_600_000 }];
    const d = await v.rank(acts, { context });
    expect(d.items.map((i) => i.id)).toEqual([catalog[1].id]);
    expect(d.ineligible).toEqual([catalog[0].id, catalog[2].id]);
  });

  it('rejects bad input with a VitrineError naming the field, and never throws synchronously', async () => {
    const v = await createVitrine({ model: MODEL, backend: 'cpu', storage: 'memory' });
    const cases: [unknown, unknown, string][] = [
      ['nope', undefined, 'activities'],
      [[{ id: '', type: 'x' }], undefined, 'activities[0].id'],
      [
        [
          { id: 'a', type: 'x' },
          { id: 'a', type: 'y' },
        ],
        undefined,
        'activities[1].id',
      ],
      [[{ id: 'a', type: 'x', features: { n: {} } }], undefined, 'activities[0].features.n'],
      [[{ id: 'a', type: 'x', endsAt: 'soon' }], undefined, 'activities[0].endsAt'],
      [catalog, { slots: 0 }, 'options.slots'],
      [catalog, { context: { cart: [1] } }, 'options.context.cart'],
    ];
    for (const [acts, opts, field] of cases) {
      const p = v.rank(acts as Activity[], opts as never);
      const err = await p.catch((e) => e);
      expect(err).toBeInstanceOf(VitrineError);
      expect(err.code).toBe('invalid_input');
      expect(err.field).toBe(field);
      expect(err.message).toContain(field);
    }
    const t = await v.track('nope', 'a', 'click').catch((e) => e);
    expect(t.code).toBe('unknown_decision');
    const d = await v.rank(catalog, { context });
    expect((await v.track(d.id, 'missing', 'click').catch((e) => e)).field).toBe('activityId');
    expect((await v.track(d.id, catalog[0].id, 'like' as never).catch((e) => e)).field).toBe('outcome');
    // Only what was placed (shown) can be tracked.
    const one = await v.rank(catalog, { context, slots: 1 });
    const notShown = catalog.find((a) => a.id !== one.items[0].id)!;
    expect((await v.track(one.id, notShown.id, 'click').catch((e) => e)).message).toMatch(/was not placed/);
    await expect(v.track(one.id, one.items[0].id, 'click')).resolves.toBeUndefined();
  });

  it('rejects invalid options with invalid_options', async () => {
    const err = await createVitrine({ model: MODEL, backend: 'tpu' as never }).catch((e) => e);
    expect(err).toMatchObject({ code: 'invalid_options', field: 'options.backend' });
    expect((await createVitrine(undefined as never).catch((e) => e)).code).toBe('invalid_options');
  });

  it('degrades to the shop order with a reason when the model cannot be loaded', async () => {
    const errors: VitrineError[] = [];
    const v = await createVitrine({
      model: 'https://shop.test/missing.json',
      storage: 'memory',
      backend: 'cpu',
      onError: (e) => errors.push(e),
    });
    expect(v.status.degraded).toMatch(/model_unavailable/);
    const d = await v.rank(catalog, { slots: 2 });
    expect(d.backend).toBe('rules');
    expect(d.items.map((i) => i.id)).toEqual([catalog[0].id, catalog[1].id]);
    expect(d.items[0]).toMatchObject({ score: null, propensity: 1 });
    expect(d.degraded).toMatch(/model_unavailable/);
    expect(errors[0].code).toBe('model_unavailable');
  });

  it('falls back to rules with a reason when scoring fails at run time', async () => {
    const errors: VitrineError[] = [];
    const v = await createVitrine({ model: MODEL, backend: 'cpu', storage: 'memory', onError: (e) => errors.push(e) });
    const { removeBackend } = await import('@tensorflow/tfjs-core');
    removeBackend('cpu'); // the backend disappears under a live instance (last test: it stays removed)
    const d = await v.rank(catalog, { context, slots: 2 });
    expect(d.backend).toBe('rules');
    expect(d.degraded).toMatch(/scoring failed/);
    expect(d.items.map((i) => i.id)).toEqual([catalog[0].id, catalog[1].id]);
    expect(errors.map((e) => e.code)).toContain('scoring_failed');
  });
});

describe('IndexedDB profile store (fake-indexeddb)', () => {
  it('persists aggregates and events across connections and bounds retention', async () => {
    const now = Date.now();
    const store = await IdbProfileStore.open({ maxEvents: 3, maxAgeDays: 1 }, () => now);
    await store.clear();
    await store.append({ activityId: 'old', activityType: 'Bar', outcome: 'click', hour: now - 3 * 86_400_000 });
    for (let i = 0; i < 4; i++) await store.append({ activityId: `a${i}`, activityType: 'Bar', outcome: 'dismiss', hour: now });
    store.close();
    const reopened = await IdbProfileStore.open({ maxEvents: 3, maxAgeDays: 1 }, () => now);
    const events = await reopened.events();
    expect(events.map((e) => e.activityId)).toEqual(['a1', 'a2', 'a3']);
    const agg = await reopened.load();
    expect(agg.total).toEqual({ views: 0, positives: 1, negatives: 4 });
    await reopened.clear();
    expect(await reopened.events()).toEqual([]);
    reopened.close();
  });

  it('reopens once when the connection was closed under it', async () => {
    const store = await IdbProfileStore.open();
    (store as unknown as { connection: { db: { close(): void } } }).connection.db.close(); // simulate the browser dropping it
    await expect(store.append({ activityId: 'a', activityType: 'Bar', outcome: 'view', hour: 0 })).resolves.toBeDefined();
    store.close();
  });
});
