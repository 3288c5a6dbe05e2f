import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { seededRandom } from '@vitrine/core/random';
import type { Rules } from '@vitrine/core/policy';
import { createVitrine, VitrineError, type Activity, type Vitrine, type VitrineOptions } from '../src/index';
import { chooseRuledSlate, filterByRules, similarity, type Holdout, type RuleContext } from '../src/policy/rules';
import { fakeFetch } from './helpers';

const manifest = readFileSync(new URL('../../../models/coupons/manifest.json', import.meta.url), 'utf8');
const weightsPath = JSON.parse(manifest).files[0].path as string;
const weights = new Uint8Array(readFileSync(new URL(`../../../models/coupons/${weightsPath}`, import.meta.url)));
const MODEL = 'https://shop.test/models/coupons/manifest.json';
const HOUR = 3_600_000;

const catalog: Activity[] = ['Bar', 'Coffee House', 'Restaurant(<20)', 'Carry out & Take away'].flatMap((type) =>
  ['2h', '1d'].map((e) => ({ id: `${type.toLowerCase().replace(/[^a-z]+/g, '-')}-${e}`, type, features: { expiration: e } })),
);
const context = { destination: 'Work', passanger: 'Alone', weather: 'Sunny', temperature: '55', time: '7AM' };

const open: Vitrine[] = [];
async function client(options: Partial<VitrineOptions> = {}): Promise<Vitrine> {
  const v = await createVitrine({ model: MODEL, backend: 'cpu', epsilon: 0, ...options });
  open.push(v);
  return v;
}

beforeEach(() => {
  vi.stubGlobal('indexedDB', new IDBFactory());
  vi.stubGlobal('fetch', fakeFetch({ [MODEL]: manifest, [new URL(weightsPath, MODEL).href]: weights }).fetch);
});
afterEach(() => {
  for (const v of open.splice(0)) v.close();
  vi.unstubAllGlobals();
});

/** Six activities of three types with fixed scores: the policy stage alone, no model. */
const six: Activity[] = [
  { id: 'a1', type: 'A', features: { brand: 'x' } },
  { id: 'a2', type: 'A', features: { brand: 'x' } },
  { id: 'a3', type: 'A', features: { brand: 'y' } },
  { id: 'b1', type: 'B', features: { brand: 'x' } },
  { id: 'b2', type: 'B', features: { brand: 'y' } },
  { id: 'c1', type: 'C', features: { brand: 'z' } },
];
const sixScores = [0.9, 0.85, 0.8, 0.5, 0.45, 0.2];

/**
 * Runs the policy stage `runs` times on the same state and checks, for every (item, slot), that
 * the share of runs that placed it there matches the propensity the policy logged for it (within
 * 4.5 standard errors), and that the logged propensities of each slot sum to 1.
 */
function monteCarlo(rules: Rules[], options: { epsilon: number; holdout: Holdout | null; slots: number; runs: number; seed: number }) {
  const random = seededRandom(options.seed);
  const counts = new Map<string, number>();
  const logged = new Map<string, number>();
  for (let r = 0; r < options.runs; r++) {
    const slate = chooseRuledSlate({
      activities: six,
      scores: sixScores,
      slots: options.slots,
      epsilon: options.epsilon,
      rules,
      segments: new Set(),
      holdout: options.holdout,
      random,
    });
    slate.order.forEach((i, slot) => {
      const key = `${six[i].id}@${slot}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      const p = slate.propensities[slot];
      const before = logged.get(key);
      // The same placement always logs the same propensity: it depends on the state, not on the draw.
      if (before !== undefined) expect(Math.abs(before - p), key).toBeLessThan(1e-12);
      logged.set(key, p);
    });
  }
  for (const [key, p] of logged) {
    const freq = (counts.get(key) ?? 0) / options.runs;
    const se = Math.sqrt((p * (1 - p)) / options.runs);
    expect(Math.abs(freq - p), `${key}: frequency ${freq} vs propensity ${p}`).toBeLessThanOrEqual(4.5 * se + 1e-9);
  }
  for (let slot = 0; slot < options.slots; slot++) {
    const total = [...logged].filter(([k]) => k.endsWith(`@${slot}`)).reduce((s, [, p]) => s + p, 0);
    expect(total, `slot ${slot}`).toBeCloseTo(1, 9);
  }
  return { counts, logged };
}

describe('propensities under rules are exact (Monte Carlo)', () => {
  it('epsilon-greedy with a boost, a pin and at most 2 of a type', () => {
    const rules: Rules[] = [
      { boost: [{ match: { activity: 'b2' }, add: 0.5 }], pin: [{ activity: 'c1', position: 1 }], diversity: { maxPerType: 2 } },
    ];
    const { logged, counts } = monteCarlo(rules, { epsilon: 0.3, holdout: null, slots: 4, runs: 40_000, seed: 7 });
    // The pin holds its slot with propensity 1 in every run.
    expect(logged.get('c1@1')).toBe(1);
    expect(counts.get('c1@1')).toBe(40_000);
    // a3 is A's third best: the type cap keeps it out of every slate, exploration's too.
    expect([...counts.keys()].some((k) => k.startsWith('a3@'))).toBe(false);
  });

  it('with MMR and a uniformly random control arm of 30%', () => {
    monteCarlo([{ diversity: { lambda: 0.5 } }], {
      epsilon: 0.2,
      holdout: { share: 0.3, control: 'uniform' },
      slots: 3,
      runs: 40_000,
      seed: 11,
    });
  });

  it("with the shop's order as control and a pin past a short slate", () => {
    monteCarlo([{ pin: [{ activity: 'a3', position: 5 }], exclude: [] }], {
      epsilon: 0.1,
      holdout: { share: 0.1, control: 'shop-order' },
      slots: 6,
      runs: 30_000,
      seed: 3,
    });
  });

  it("the shadow's propensities under the same rules match the frequencies of the policy ranking with its scores", () => {
    const rules: Rules[] = [
      { boost: [{ match: { type: 'C' }, add: 0.3 }], pin: [{ activity: 'b1', position: 2 }], diversity: { maxPerType: 2, lambda: 0.6 } },
    ];
    const holdout: Holdout = { share: 0.2, control: 'uniform' };
    const shadowScores = [0.1, 0.7, 0.75, 0.3, 0.9, 0.4];
    const base = { activities: six, slots: 4, epsilon: 0.25, rules, segments: new Set<string>(), holdout };
    // What the shadow's policy does, by Monte Carlo.
    const random = seededRandom(17);
    const runs = 40_000;
    const freq = new Map<string, number>();
    for (let r = 0; r < runs; r++) {
      const s = chooseRuledSlate({ ...base, scores: shadowScores, random });
      s.order.forEach((i, pos) => freq.set(`${i}@${pos}`, (freq.get(`${i}@${pos}`) ?? 0) + 1 / runs));
    }
    // For slates the logging policy chose (other scores), the shadow's stated propensity of each placement.
    const logging = seededRandom(23);
    for (let r = 0; r < 300; r++) {
      const s = chooseRuledSlate({ ...base, scores: sixScores, random: logging });
      const q = s.propensitiesUnder(
        six,
        shadowScores,
        s.order.map((_, pos) => pos),
      );
      s.order.forEach((i, pos) => {
        const f = freq.get(`${i}@${pos}`) ?? 0;
        expect(Math.abs(f - q[pos]), `${six[i].id}@${pos}`).toBeLessThanOrEqual(4.5 * Math.sqrt((q[pos] * (1 - q[pos])) / runs) + 1e-9);
      });
      // With the logging policy's own scores it states the logged propensities.
      expect(s.propensitiesUnder(six, sixScores, [0, 1, 2, 3])).toEqual(s.propensities);
    }
  });

  it('pacing keeps an activity in a share of page views equal to its multiplier', () => {
    const random = seededRandom(5);
    const ctx: RuleContext = { rules: [], pacing: { b1: 0.3, c1: 0 }, segments: new Set(), events: [], now: 0, random };
    let kept = 0;
    const runs = 20_000;
    for (let r = 0; r < runs; r++) {
      const f = filterByRules(six, ctx);
      expect(f.kept.map((i) => six[i].id)).not.toContain('c1');
      if (f.kept.some((i) => six[i].id === 'b1')) kept++;
      else expect(f.removed).toContainEqual({ id: 'b1', rule: 'paced' });
    }
    expect(Math.abs(kept / runs - 0.3)).toBeLessThan(4.5 * Math.sqrt((0.3 * 0.7) / runs));
  });
});

describe('rule semantics', () => {
  const ctx = (over: Partial<RuleContext>): RuleContext => ({
    rules: [],
    pacing: {},
    segments: new Set(),
    events: [],
    now: 100 * HOUR,
    random: () => 0.5,
    ...over,
  });
  const ids = (f: { kept: number[] }) => f.kept.map((i) => six[i].id);

  it('excludes by id, by type and for a segment only', () => {
    expect(ids(filterByRules(six, ctx({ rules: [{ exclude: [{ activity: 'a1' }, { type: 'B' }] }] })))).toEqual(['a2', 'a3', 'c1']);
    const bySegment: Rules = { exclude: [{ type: 'A', segment: 'lapsed' }] };
    expect(ids(filterByRules(six, ctx({ rules: [bySegment] })))).toHaveLength(6);
    expect(ids(filterByRules(six, ctx({ rules: [bySegment], segments: new Set(['lapsed']) })))).toEqual(['b1', 'b2', 'c1']);
  });

  it('targets an activity to segments: others never see it', () => {
    const rules: Rules[] = [{ target: [{ activity: 'c1', segments: ['coffee-lovers', 'new'] }] }];
    expect(filterByRules(six, ctx({ rules })).removed).toEqual([{ id: 'c1', rule: 'target' }]);
    expect(ids(filterByRules(six, ctx({ rules, segments: new Set(['new']) })))).toContain('c1');
  });

  it('caps views per window and hides what was redeemed', () => {
    const now = 100 * HOUR;
    const views = (id: string, hoursAgo: number[]) =>
      hoursAgo.map((h) => ({ activityId: id, outcome: 'view' as const, hour: now - h * HOUR }));
    const rules: Rules[] = [{ caps: [{ match: { type: 'A' }, maxViews: 3, perHours: 24 }] }];
    const events = [
      ...views('a1', [1, 2, 3]),
      ...views('a2', [1, 2, 30]),
      { activityId: 'b1', outcome: 'purchase' as const, hour: now - 50 * HOUR },
    ];
    const f = filterByRules(six, ctx({ rules, events, now }));
    expect(f.removed).toEqual([
      { id: 'a1', rule: 'cap' },
      { id: 'b1', rule: 'hidden' },
    ]);
    // hideAfter [] turns the default off; ['dismiss'] hides dismissed ones instead.
    expect(filterByRules(six, ctx({ rules: [{ hideAfter: [] }], events })).removed).toEqual([]);
    // Without any rules nothing is hidden (the default comes with rules); an empty rule set is none.
    expect(filterByRules(six, ctx({ events })).removed).toEqual([]);
    expect(filterByRules(six, ctx({ events, rules: [{}] })).removed).toEqual([]);
  });

  it('pins, boosts, caps a type and diversifies with MMR', () => {
    const slate = (rules: Rules[], slots = 4) =>
      chooseRuledSlate({
        activities: six,
        scores: sixScores,
        slots,
        epsilon: 0,
        rules,
        segments: new Set(),
        holdout: null,
        random: () => 0.99,
      });
    const order = (rules: Rules[], slots?: number) => slate(rules, slots).order.map((i) => six[i].id);
    expect(order([])).toEqual(['a1', 'a2', 'a3', 'b1']);
    expect(order([{ pin: [{ activity: 'c1', position: 0 }] }])).toEqual(['c1', 'a1', 'a2', 'a3']);
    expect(order([{ boost: [{ match: { type: 'C' }, multiply: 4.4 }] }])).toEqual(['a1', 'c1', 'a2', 'a3']);
    expect(order([{ diversity: { maxPerType: 1 } }])).toEqual(['a1', 'b1', 'c1']);
    const capped = slate([{ diversity: { maxPerType: 1 } }]);
    expect(capped.removed.map((r) => r.id).sort()).toEqual(['a2', 'a3', 'b2']);
    // MMR (λ = 0.5): after a1, b2 (0.5·0.45 − 0) beats a3 (0.5·0.8 − 0.5·0.5) and a2, a1's near copy (0.5·0.85 − 0.5·1).
    expect(order([{ diversity: { lambda: 0.5 } }], 3)).toEqual(['a1', 'b2', 'a3']);
    expect(order([{ diversity: { lambda: 1 } }], 3)).toEqual(['a1', 'a2', 'a3']);
    expect(similarity(six[0], six[1])).toBe(1);
    expect(similarity(six[0], six[5])).toBe(0);
  });
});

describe('rules through the client', () => {
  it('without a model the shop order still obeys pins, boosts and the type cap', async () => {
    const v = await createVitrine({ model: 'https://shop.test/missing/manifest.json', backend: 'cpu', storage: 'memory' });
    open.push(v);
    expect(v.status.degraded).toBeDefined();
    const rules: Rules = { pin: [{ activity: 'carry-out-take-away-1d', position: 0 }], diversity: { maxPerType: 1 } };
    const d = await v.rank(catalog, { context, rules, slots: 3 });
    expect(d.backend).toBe('rules');
    expect(d.items.map((i) => i.id)).toEqual(['carry-out-take-away-1d', 'bar-2h', 'coffee-house-2h']);
    expect(d.excluded?.filter((x) => x.rule === 'diversity').map((x) => x.id)).toEqual([
      'bar-1d',
      'coffee-house-1d',
      'restaurant--1d',
      'carry-out-take-away-2h',
    ]);
    expect(d.items.every((i) => i.propensity === 1)).toBe(true);
  });

  it('a /policy that never answers holds createVitrine up 2 s at most; the shop rules apply meanwhile', async () => {
    const files = { [MODEL]: manifest, [new URL(weightsPath, MODEL).href]: weights };
    let aborted = false;
    vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
      if (String(input) !== 'https://vitrine.test/v1/policy') return fakeFetch(files).fetch(input, init);
      return new Promise<Response>((_, reject) =>
        init?.signal?.addEventListener('abort', () => {
          aborted = true;
          reject(init.signal!.reason);
        }),
      );
    });
    const started = Date.now();
    const v = await client({ endpoint: 'https://vitrine.test/v1', storage: 'memory', rules: { exclude: [{ activity: 'bar-2h' }] } });
    expect(Date.now() - started).toBeLessThan(4_000);
    expect((await v.rank(catalog, { context })).excluded).toEqual([{ id: 'bar-2h', rule: 'exclude' }]);
    expect(aborted).toBe(false); // still waiting: the request is given up after 10 s, then tried again a minute later
  });

  it("a hostile or failing /policy never breaks ranking: the shop's rules apply, a warning says why, and it recovers", async () => {
    let answer: string | null =
      '{"format":"vitrine-policy@1","version":"x","rules":{"exclude":[{"activity":{"$gt":""}}]},"segments":[],"pacing":{},"issuedAt":0}';
    let clock = 1_000_000;
    const errors: VitrineError[] = [];
    const files = { [MODEL]: manifest, [new URL(weightsPath, MODEL).href]: weights };
    vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = String(input);
      if (url === 'https://vitrine.test/v1/policy') return answer === null ? new Response('down', { status: 503 }) : new Response(answer);
      return fakeFetch(files).fetch(input, init);
    });
    const v = await client({ endpoint: 'https://vitrine.test/v1', storage: 'memory', now: () => clock, onError: (e) => errors.push(e) });
    expect(v.status.warnings.join()).toMatch(/merchant policy not loaded .*not valid \(rules\.exclude\.0\.activity/);
    expect(errors.map((e) => e.code)).toContain('policy_unavailable');
    const first = await v.rank(catalog, { context });
    expect(first.items).toHaveLength(catalog.length);
    // Down, then back with a real policy a minute later: the next rank fetches it and applies it.
    answer = null;
    clock += 61_000;
    await v.rank(catalog, { context });
    await new Promise((r) => setTimeout(r, 10));
    answer = JSON.stringify({
      format: 'vitrine-policy@1',
      version: 'v2',
      rules: { exclude: [{ activity: 'bar-2h' }] },
      segments: [],
      pacing: {},
      issuedAt: 1,
    });
    clock += 61_000;
    await v.rank(catalog, { context });
    await new Promise((r) => setTimeout(r, 10));
    const after = await v.rank(catalog, { context });
    expect(after.excluded).toEqual([{ id: 'bar-2h', rule: 'exclude' }]);
    expect(v.status.warnings.filter((w) => /merchant policy/.test(w))).toEqual([]);
  });

  it('rejects bad rules with a typed error naming the field', async () => {
    const bad = createVitrine({ model: MODEL, backend: 'cpu', rules: { caps: [{ match: {}, maxViews: 0, perHours: 24 }] } as never });
    await expect(bad).rejects.toMatchObject({ name: 'VitrineError', code: 'invalid_options', field: 'options.rules' });
    const v = await client();
    const call = v.rank(catalog, { context, rules: { pin: [{ activity: 'x', position: -1 }] } as never });
    await expect(call).rejects.toBeInstanceOf(VitrineError);
    await expect(call).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('says what the rules left out, and a cap survives a new client on the same profile', async () => {
    const rules: Rules = { caps: [{ match: { activity: 'bar-2h' }, maxViews: 2, perHours: 24 }], exclude: [{ type: 'Restaurant(<20)' }] };
    const v = await client({ rules });
    for (let i = 0; i < 2; i++) {
      const d = await v.rank(catalog, { context });
      expect(d.items.map((x) => x.id)).toContain('bar-2h');
      await v.track(d.id, 'bar-2h', 'view');
    }
    const third = await v.rank(catalog, { context });
    expect(third.items.map((x) => x.id)).not.toContain('bar-2h');
    expect(third.excluded).toEqual(
      expect.arrayContaining([
        { id: 'bar-2h', rule: 'cap' },
        { id: 'restaurant--2h', rule: 'exclude' },
      ]),
    );
    v.close();
    // Another page load: the same IndexedDB profile, the cap still holds.
    const reloaded = await client({ rules });
    expect((await reloaded.rank(catalog, { context })).items.map((x) => x.id)).not.toContain('bar-2h');
  });

  it('computes segments on the device from the profile and attributes', async () => {
    const segments = [
      { id: 'new', name: 'New', when: { history: { maxAnswers: 0 } } },
      { id: 'coffee-lovers', name: 'Coffee lovers', when: { history: { type: 'Coffee House', minAnswers: 2, minAcceptance: 0.5 } } },
      { id: 'young', name: 'Under 30', when: { attribute: { key: 'age', in: ['21', '26'] } } },
    ];
    const v = await client({ segments, user: { age: '26' } });
    expect((await v.segments()).map((s) => s.id)).toEqual(['new', 'young']);
    const d = await v.rank(catalog, { context });
    await v.track(d.id, 'coffee-house-2h', 'click');
    await v.track(d.id, 'coffee-house-1d', 'dismiss');
    expect((await v.segments()).map((s) => s.id)).toEqual(['coffee-lovers', 'young']);
    // Segments in rules: the bundle only for coffee lovers.
    const bundle: Activity = { id: 'bundle', type: 'Bundle' };
    const ranked = await v.rank([...catalog, bundle], {
      context,
      rules: { target: [{ activity: 'bundle', segments: ['coffee-lovers'] }] },
    });
    expect(ranked.items.map((x) => x.id)).toContain('bundle');
    const other = await client({ segments, storage: 'memory' });
    const refused = await other.rank([...catalog, bundle], {
      context,
      rules: { target: [{ activity: 'bundle', segments: ['coffee-lovers'] }] },
    });
    expect(refused.excluded).toContainEqual({ id: 'bundle', rule: 'target' });
  });
});
